import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { IngestEvent } from '@kiln/protocol';
import type { LanguageModel } from 'ai';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { CliError } from '../cli-error';
import { resolveServerConfig } from '../config/server-config';
import { fitEvent } from '../ingest/fit-event';
import { leaseBuild } from '../ingest/lease';
import { IngestProducer } from '../ingest/producer';
import { socketUrl } from '../net/http';
import type { CommandIo } from '../replay/replay-command';
import { generateTitle } from './generated-title';
import {
  groupSessions,
  type ImportPlan,
  planImport,
  plannedModel,
  type ReadFile,
  readImportFile,
} from './plan';

/** `kiln import PATH…` options, as parsed by the CLI. */
export interface ImportOptions {
  paths: string[];
  project?: string;
  json?: boolean;
  server?: string;
  token?: string;
  /** Draws the progress bar (the CLI: when stderr is a terminal). */
  progress?: boolean;
  /** Writes short titles with this model (the CLI: the runner's configured model, if any). */
  titleModel?: LanguageModel;
}

/** One imported session, as the summary table and `--json` show it. */
interface ImportedSession {
  /** The session's main file. */
  source: string;
  format: string;
  sessionId: string;
  title: string;
  url: string;
  /** Events of the session (all imports together) and how many this import added. */
  events: number;
  newEvents: number;
  toolCalls: number;
  badLines: number;
  /** Why the upload failed, if it did. */
  error?: string;
}

/** What `kiln import --json` prints: one JSON line. */
export interface ImportSummary {
  projectId: string;
  sessions: ImportedSession[];
  /** Files that are not a recording Kiln reads, or could not be read. */
  skipped: { path: string; error: string }[];
}

/** Files in a directory that may hold recordings. */
const RECORDING_FILE = /\.(jsonl|json)$/;

/**
 * Imports recorded agent runs — files, or whole directories such as `~/.claude/projects/<slug>/`
 * or `~/.codex/sessions/` — into a project: one session per source session, idempotent (a
 * session's events are numbered by their position in its recording, so importing again adds
 * only what a grown file added), keeping the recorded times. Unreadable and unknown files are
 * reported and skipped; lines that are not JSON are counted. Errors: `CliError` (no project,
 * nothing to import), `ConfigError`.
 */
export async function importRecordings(
  options: ImportOptions,
  io: CommandIo,
): Promise<ImportSummary> {
  const skipped: ImportSummary['skipped'] = [];
  // First pass: format and source session of every file, without keeping its lines, so a
  // history of thousands of files is held in memory one session at a time.
  const files: ReadFile[] = [];
  for (const path of await recordingPaths(options.paths, skipped)) {
    const read = await readRecording(path);
    if ('error' in read) skipped.push(read);
    else files.push({ ...read, lines: [] });
  }
  const config = resolveServerConfig({ server: options.server, token: options.token });
  const projectId = options.project ?? config.projectId;
  if (!projectId)
    throw new CliError('no project: pass --project ID (or run `pnpm dev` for .kiln/dev.json)');
  const groups = groupSessions(files);
  if (groups.length === 0 && skipped.length === 0)
    throw new CliError(`nothing to import in ${options.paths.join(', ')}`);

  const bar = new SingleBar({
    format:
      'importing {bar} {value}/{total} sessions · {events} events · {toolCalls} tool calls · {errors} errors',
    stream: process.stderr,
    hideCursor: true,
    noTTYOutput: false,
  });
  const totals = { events: 0, toolCalls: 0, errors: skipped.length };
  if (options.progress) bar.start(groups.length, 0, totals);
  const sessions: ImportedSession[] = [];
  for (const group of groups) {
    // Second pass: this session's files again, whole, then planned and sent.
    const read = await Promise.all(group.map((f) => readRecording(f.path)));
    const failed = read.find((r) => 'error' in r);
    if (failed && 'error' in failed) {
      skipped.push(failed);
      totals.errors++;
      if (options.progress) bar.increment(1, totals);
      continue;
    }
    const plan = planImport(
      read.filter((r): r is ReadFile => !('error' in r)),
      projectId,
      (sessionId) => `${sessionId}:import`,
    );
    const session = await importSession(plan, projectId, config, options.titleModel);
    sessions.push(session);
    totals.events += session.newEvents;
    totals.toolCalls += session.toolCalls;
    totals.errors += session.badLines + (session.error ? 1 : 0);
    if (options.progress) bar.increment(1, totals);
  }
  if (options.progress) bar.stop();

  const summary = { projectId, sessions, skipped };
  if (options.json) io.out(JSON.stringify(summary));
  else io.out(summaryTable(summary));
  for (const { path, error } of skipped) io.err(`skipped ${path}: ${error}`);
  for (const s of sessions) if (s.error) io.err(`${s.source}: ${s.error}`);
  return summary;
}

/** Leases the session's import build and sends what it has not acknowledged yet. */
async function importSession(
  plan: ImportPlan,
  projectId: string,
  config: { server: string; token: string },
  titleModel: LanguageModel | undefined,
): Promise<ImportedSession> {
  const result: ImportedSession = {
    source: plan.source,
    format: plan.format,
    sessionId: plan.sessionId,
    title: plan.title,
    url: `${config.server}/s/${plan.sessionId}`,
    events: plan.events.length,
    newEvents: 0,
    toolCalls: plan.toolCalls,
    badLines: plan.badLines,
  };
  try {
    const lease = await leaseBuild(config, projectId, plan.sessionId, {
      agent: plan.format,
      model: plannedModel(plan),
      import: true,
    });
    const acked = lease.ackedProducerSeq;
    if (acked >= plan.events.length) return result;
    let events: IngestEvent[] = plan.events.slice(acked);
    if (acked === 0 && titleModel && plan.prompt) {
      result.title = await titledByModel(titleModel, plan.prompt, plan.title);
      events = [
        { ...events[0]!, type: 'session-renamed', title: result.title },
        ...events.slice(1),
      ];
    }
    const producer = new IngestProducer({
      url: socketUrl(config.server, lease.ingestPath),
      token: config.token,
      buildId: lease.buildId,
      // Producer seqs are positions in the plan: continue after what earlier imports sent.
      resume: { ackedSeq: acked, nextSeq: acked + 1, entries: [] },
    });
    try {
      producer.append(events.map(fitEvent));
      await producer.flush();
    } finally {
      producer.close();
    }
    result.newEvents = events.length;
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  }
  return result;
}

/** One file read and recognised, or why not (unreadable, unknown format). */
async function readRecording(path: string): Promise<ReadFile | { path: string; error: string }> {
  try {
    return readImportFile({ path, text: await readFile(path, 'utf8') });
  } catch (cause) {
    return { path, error: cause instanceof Error ? cause.message : String(cause) };
  }
}

/** A generated title, or the plan's when the model fails (the import goes on). */
async function titledByModel(model: LanguageModel, prompt: string, fallback: string) {
  try {
    return await generateTitle(model, prompt);
  } catch {
    // A model that is down or refuses must not stop an import: the prompt's title stands.
    return fallback;
  }
}

/** The files named, and the recording files (`*.jsonl`, `*.json`) under the directories named. */
async function recordingPaths(
  paths: readonly string[],
  skipped: ImportSummary['skipped'],
): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    try {
      if (!(await stat(path)).isDirectory()) {
        out.push(path);
        continue;
      }
      const entries = await readdir(path, { recursive: true, withFileTypes: true });
      const found = entries
        .filter((e) => e.isFile() && RECORDING_FILE.test(e.name))
        .map((e) => join(e.parentPath, e.name))
        .sort();
      out.push(...found);
    } catch (cause) {
      skipped.push({ path, error: cause instanceof Error ? cause.message : String(cause) });
    }
  }
  return out;
}

/** The summary table printed at the end of an import. */
function summaryTable(summary: ImportSummary): string {
  const table = new Table({
    head: ['session', 'format', 'events (new)', 'tool calls', 'errors', 'id'],
    // Plain text: the table is read by people and by scripts that pipe it.
    style: { head: [], border: [] },
  });
  const total = { events: 0, newEvents: 0, toolCalls: 0, errors: 0 };
  for (const s of summary.sessions) {
    const errors = s.badLines + (s.error ? 1 : 0);
    table.push([
      s.title.slice(0, 48),
      s.format,
      `${s.events} (${s.newEvents})`,
      s.toolCalls,
      errors,
      s.sessionId,
    ]);
    total.events += s.events;
    total.newEvents += s.newEvents;
    total.toolCalls += s.toolCalls;
    total.errors += errors;
  }
  table.push([
    `${summary.sessions.length} session(s)`,
    '',
    `${total.events} (${total.newEvents})`,
    total.toolCalls,
    total.errors + summary.skipped.length,
    '',
  ]);
  return table.toString();
}
