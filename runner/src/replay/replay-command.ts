import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMapper, detectFormat, parseRecording, type RecordedLine } from '../agents';
import { CliError } from '../cli-error';
import { resolveServerConfig } from '../config/server-config';
import { fitEvent } from '../ingest/fit-event';
import { leaseBuild } from '../ingest/lease';
import { IngestProducer } from '../ingest/producer';
import { socketUrl } from '../net/http';
import { paceLine, type Speed } from './pacing';

/** `kiln replay FILE …` options, as parsed by the CLI. */
export interface ReplayOptions {
  file: string;
  speed: Speed;
  project?: string;
  session?: string;
  json?: boolean;
  server?: string;
  token?: string;
  /**
   * Hold the replay once at least this many events are acknowledged: print
   * `paused after N events` to stderr and wait for `CommandIo.resume` (the CLI: a line on stdin).
   * Lets a test or a demo join a session mid-stream without racing the replay.
   */
  pauseAfter?: number;
}

/** What `kiln replay --json` prints: one JSON line. */
export interface ReplaySummary {
  sessionId: string;
  projectId: string;
  /** The session's page in the web app. */
  url: string;
  /** Events acknowledged by the server. */
  events: number;
  turns: number;
}

/** Where the command writes: stdout for results, stderr for progress and notices. */
export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Resolves when a paused replay (`pauseAfter`) may go on; required with `pauseAfter`. */
  resume?: () => Promise<void>;
}

/** `turn-started.runnerId` of the turns `kiln replay` produces (PROTOCOL.md glossary: producer). */
const REPLAY_PRODUCER_ID = 'kiln-replay';

/**
 * Replays a recorded run into a session: detects its format, leases a build, maps the lines and
 * streams the events through the ingest producer at `speed`, and resolves once every event is
 * acknowledged. Errors: `CliError` (unreadable file, unknown format, no project), `ConfigError`,
 * `ServerError` (401/403/404 …).
 */
export async function replay(options: ReplayOptions, io: CommandIo): Promise<ReplaySummary> {
  let text: string;
  try {
    text = await readFile(options.file, 'utf8');
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new CliError(`cannot read ${options.file}: ${reason}`, 1, { cause });
  }
  const { lines, invalidLines } = parseRecording(text);
  const format = detectFormat(lines);
  if (!format) {
    throw new CliError(
      `${options.file}: unknown format (expected Claude Code stream-json or transcript, or Codex exec --json)`,
    );
  }
  if (invalidLines > 0) io.err(`skipping ${invalidLines} line(s) that are not JSON`);
  const config = resolveServerConfig({ server: options.server, token: options.token });
  const projectId = options.project ?? config.projectId;
  if (!projectId)
    throw new CliError('no project: pass --project ID (or run `pnpm dev` for .kiln/dev.json)');
  const resume = io.resume;
  if (options.pauseAfter !== undefined && !resume)
    throw new CliError('--pause-after needs a way to resume (stdin)');
  const sessionId = options.session ?? randomUUID();
  const lease = await leaseBuild(config, projectId, sessionId, {
    agent: 'replay',
    model: recordedModel(lines),
  });
  const url = `${config.server}/s/${sessionId}`;
  if (!options.json) io.out(`session ${sessionId}\n${url}`);

  const producer = new IngestProducer({
    url: socketUrl(config.server, lease.ingestPath),
    token: config.token,
    buildId: lease.buildId,
    onNotice: (message) => io.err(message),
  });
  const mapper = createMapper(format, { buildId: lease.buildId, producerId: REPLAY_PRODUCER_ID });
  let events = 0;
  let turns = 0;
  let paused = false;
  const send = async (mapped: ReturnType<typeof mapper.push>, gapMs: number | undefined) => {
    for (const step of paceLine(mapped.map(fitEvent), gapMs, options.speed)) {
      if (step.delayMs > 0) await sleep(step.delayMs);
      producer.append(step.events);
      events += step.events.length;
      turns += step.events.filter((e) => e.type === 'turn-started').length;
      if (!paused && resume && options.pauseAfter !== undefined && events >= options.pauseAfter) {
        paused = true;
        await producer.flush();
        io.err(`paused after ${events} events`);
        await resume();
      }
    }
  };
  try {
    let previousAt: number | undefined;
    for (const line of lines) {
      const gapMs =
        line.at !== undefined && previousAt !== undefined ? line.at - previousAt : undefined;
      if (line.at !== undefined) previousAt = line.at;
      await send(mapper.push(line), gapMs);
    }
    await send(mapper.end(), undefined);
    await producer.flush();
  } finally {
    producer.close();
  }
  const summary = { sessionId, projectId, url, events, turns };
  if (options.json) io.out(JSON.stringify(summary));
  else io.out(`replayed ${events} events in ${turns} turn(s)`);
  return summary;
}

/** The model a recording names first (Claude Code init or message), else ''. */
function recordedModel(lines: readonly RecordedLine[]): string {
  for (const { value } of lines) {
    if (typeof value !== 'object' || value === null) continue;
    if ('model' in value && typeof value.model === 'string') return value.model;
    if ('message' in value && typeof value.message === 'object' && value.message !== null) {
      const message = value.message;
      if ('model' in message && typeof message.model === 'string') return message.model;
    }
  }
  return '';
}
