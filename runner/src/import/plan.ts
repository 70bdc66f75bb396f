import { type IngestEvent, type RunnerEventBody, titleFromPrompt } from '@kiln/protocol';
import { v5 as uuidv5 } from 'uuid';
import { createMapper, detectFormat, parseRecording, type RecordedLine } from '../agents';
import type { RecordingFormat } from '../agents/mapper';

/**
 * Planning an import (PROTOCOL.md §7, "Importing"): from the files of one source session to the
 * exact list of events `kiln import` (or the web app's drop-to-import) sends. Pure and free of
 * Node APIs, so the browser runs the same code: the same files always give the same events, which
 * is what makes an import idempotent — event n of a session always has producer seq n.
 */

/** One recording file: where it came from (for names and messages) and its text. */
export interface ImportFile {
  path: string;
  text: string;
}

/** A file read and recognised: its format, lines, and the source session it belongs to. */
export interface ReadFile {
  path: string;
  format: RecordingFormat;
  lines: RecordedLine[];
  /** Non-blank lines that were not JSON: counted and reported, never fatal. */
  badLines: number;
  /** The source's own session id (Claude Code `sessionId`, Codex thread/session id), if any. */
  sourceSessionId: string | undefined;
}

/** What `planImport` decided for one source session. */
export interface ImportPlan {
  /** The session's main file. */
  source: string;
  format: RecordingFormat;
  /** The key the Kiln session is derived from: the source's session id, else the file's name. */
  sourceKey: string;
  /** The Kiln session id: a UUID v5 of project, format and source key. */
  sessionId: string;
  title: string;
  /** `session-renamed {title}` first, then the mapped events; `turn-started.buildId` is the lease's. */
  events: IngestEvent[];
  toolCalls: number;
  lines: number;
  badLines: number;
  /** The prompt the title came from, for a generated title (undefined when the summary titled it). */
  prompt: string | undefined;
}

/** `runnerId` of events produced by `kiln import`. */
const IMPORT_RUNNER_ID = 'kiln-import';

/** Namespace of imported session ids (UUID v5): a random constant, fixed forever. */
const IMPORT_NAMESPACE = '6f1d8c52-4f0b-4c57-9a8e-2d5b7e0a9c13';

/** Reads one file, or returns why it cannot be imported (not JSON Lines, unknown format). */
export function readImportFile(file: ImportFile): ReadFile | { path: string; error: string } {
  const { lines, invalidLines } = parseRecording(file.text);
  const format = detectFormat(lines);
  if (!format) return { path: file.path, error: 'unknown format' };
  return {
    path: file.path,
    format,
    lines,
    badLines: invalidLines,
    sourceSessionId: sourceSessionIdOf(format, lines),
  };
}

/**
 * Groups read files into source sessions: a Claude Code transcript and its subagents' files
 * (`<id>/subagents/agent-*.jsonl`, or `agent-*.jsonl` beside it) share one `sessionId` and become
 * one session; every other file is a session of its own. Main files come before subagent files.
 */
export function groupSessions(files: readonly ReadFile[]): ReadFile[][] {
  const groups = new Map<string, ReadFile[]>();
  for (const file of files) {
    const key =
      file.format === 'claude-code' && file.sourceSessionId
        ? `claude-code:${file.sourceSessionId}`
        : `file:${file.path}`;
    const group = groups.get(key) ?? [];
    group.push(file);
    groups.set(key, group);
  }
  return [...groups.values()].map((group) =>
    group.sort((a, b) => Number(isSubagentFile(a)) - Number(isSubagentFile(b))),
  );
}

/**
 * Maps one source session (its files from `groupSessions`) to the events to send, with each
 * event's `recordedAt` taken from its line (or the latest timestamp before it).
 */
export function planImport(
  group: readonly ReadFile[],
  projectId: string,
  buildId: (sessionId: string) => string,
): ImportPlan {
  const main = group[0]!;
  const sourceKey = main.sourceSessionId ?? baseName(main.path);
  const sessionId = uuidv5(`${projectId}\n${main.format}\n${sourceKey}`, IMPORT_NAMESPACE);
  const build = buildId(sessionId);
  const mapper = createMapper(main.format, {
    buildId: build,
    producerId: IMPORT_RUNNER_ID,
    turnIdPrefix: sourceKey,
  });
  const lines = mergeByTime(group.map((f) => f.lines));
  const firstAt = lines.find((l) => l.at !== undefined)?.at;
  const events: IngestEvent[] = [];
  let at = firstAt;
  const stamp = (mapped: RunnerEventBody[]) => {
    for (const event of mapped)
      events.push(at === undefined ? event : { ...event, recordedAt: at });
  };
  for (const line of lines) {
    if (line.at !== undefined) at = line.at;
    stamp(mapper.push(line));
  }
  stamp(mapper.end());
  alignTurnTimes(events);
  const { summary, firstPrompt } = mapper.facts;
  const title = titleFromPrompt(summary ?? firstPrompt ?? '') || baseName(main.path);
  const titleEvent: IngestEvent = { type: 'session-renamed', title };
  return {
    source: main.path,
    format: main.format,
    sourceKey,
    sessionId,
    title,
    events: [
      firstAt === undefined ? titleEvent : { ...titleEvent, recordedAt: firstAt },
      ...events,
    ],
    toolCalls: events.filter((e) => e.type === 'tool-input-available').length,
    lines: lines.length,
    badLines: group.reduce((n, f) => n + f.badLines, 0),
    prompt: summary === undefined ? firstPrompt : undefined,
  };
}

/** The model a plan's turns name first, else ''. */
export function plannedModel(plan: ImportPlan): string {
  for (const event of plan.events)
    if (event.type === 'turn-started' && event.model) return event.model;
  return '';
}

/** Events a turn's end brings with it: its open messages' usage and end. */
const CLOSING = new Set(['usage', 'message-finish', 'turn-finished']);

/**
 * Gives each turn the recording's extent. Events are stamped with the line they came from, but a
 * turn ends on a later line (the next prompt) and starts on its first output: its closing events
 * get the time of the turn's last line instead, and its `turn-started` the time of its prompt —
 * the end minus the `durationMs` the mapper measured from the prompt. In place.
 */
function alignTurnTimes(events: IngestEvent[]): void {
  const starts = new Map<string, number>();
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    if (event.type === 'turn-started') starts.set(event.turnId, i);
    if (event.type !== 'turn-finished' || event.recordedAt === undefined) continue;
    const start = starts.get(event.turnId);
    if (start === undefined) continue;
    let j = i - 1;
    while (j > start && CLOSING.has(events[j]!.type) && events[j]!.recordedAt === event.recordedAt)
      j--;
    const lastAt = events[j]!.recordedAt ?? event.recordedAt;
    for (let k = j + 1; k <= i; k++) events[k] = { ...events[k]!, recordedAt: lastAt };
    const startedAt = lastAt - event.durationMs;
    const opened = events[start]!;
    if (event.durationMs > 0 && opened.recordedAt !== undefined && startedAt < opened.recordedAt) {
      const before = start > 0 ? (events[start - 1]!.recordedAt ?? startedAt) : startedAt;
      events[start] = { ...opened, recordedAt: Math.max(before, startedAt) };
    }
  }
}

/**
 * Interleaves several files' lines by timestamp, keeping each file's own order (a line without a
 * timestamp keeps the time of the line before it); ties go to the earlier file.
 */
function mergeByTime(files: readonly RecordedLine[][]): RecordedLine[] {
  if (files.length === 1) return files[0]!;
  const next = files.map(() => 0);
  const times = files.map(() => Number.NEGATIVE_INFINITY);
  const out: RecordedLine[] = [];
  for (;;) {
    let pick = -1;
    let pickAt = Number.POSITIVE_INFINITY;
    for (let i = 0; i < files.length; i++) {
      const line = files[i]![next[i]!];
      if (!line) continue;
      const lineAt = line.at ?? times[i]!;
      if (pick === -1 || lineAt < pickAt) {
        pick = i;
        pickAt = lineAt;
      }
    }
    if (pick === -1) return out;
    const line = files[pick]![next[pick]!++]!;
    if (line.at !== undefined) times[pick] = line.at;
    out.push({ ...line, lineNumber: out.length + 1 });
  }
}

/** The source session id a recording names (see `ReadFile.sourceSessionId`). */
function sourceSessionIdOf(
  format: RecordingFormat,
  lines: readonly RecordedLine[],
): string | undefined {
  const mapper = createMapper(format, { buildId: 'probe', producerId: IMPORT_RUNNER_ID });
  // The id comes from the first lines (init, session_meta, thread.started): stop once it is known.
  for (const line of lines) {
    mapper.push(line);
    if (mapper.facts.sourceSessionId !== undefined) return mapper.facts.sourceSessionId;
  }
  return undefined;
}

function isSubagentFile(file: ReadFile): boolean {
  return /(^|\/)agent-[^/]*\.jsonl$/.test(file.path);
}

function baseName(path: string): string {
  const name = path.split(/[\\/]/).pop() ?? path;
  return name.replace(/\.(jsonl|json)$/, '');
}
