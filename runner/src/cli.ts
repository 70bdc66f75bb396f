import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { NoProviderError, selectModel } from './agents/ai-sdk/provider';
import { CliError } from './cli-error';
import { ConfigError } from './config/server-config';
import { type RunnerCommandOptions, runRunner } from './daemon/runner-command';
import { importRecordings } from './import/import-command';
import { ServerError } from './net/errors';
import { parseSpeed, type Speed } from './replay/pacing';
import { type CommandIo, type ReplayOptions, replay } from './replay/replay-command';
import { type WatchOptions, watch } from './watch/watch-command';

/**
 * The `kiln` CLI: `kiln replay FILE` streams a recorded agent run into a session, `kiln watch
 * SESSION` follows one in the terminal. Exit codes: 0 done, 1 a reported error, 2 bad usage.
 */

const io: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`kiln: ${line}\n`),
  resume: async () => {
    // One line on stdin (or its end) resumes a `--pause-after` replay.
    const lines = createInterface({ input: process.stdin });
    await Promise.race([once(lines, 'line'), once(lines, 'close')]);
    lines.close();
  },
};

function speedOption(value: string): Speed {
  try {
    return parseSpeed(value);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

function intOption(value: string): number {
  const n = Number.parseInt(value, 10);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a whole number: ${value}`);
  return n;
}

const program = new Command('kiln')
  .description('Kiln: watch coding agents build, live')
  .showHelpAfterError()
  .exitOverride((error) => {
    // Commander's own exits (help, version, usage errors) keep their codes; usage errors are 2.
    process.exit(error.exitCode === 0 ? 0 : 2);
  });

program
  .command('replay')
  .description('stream a recorded Claude Code or Codex run into a session')
  .argument(
    '<file>',
    'recorded run (.jsonl): Claude Code stream-json or transcript, Codex exec --json',
  )
  .option(
    '--speed <n|max>',
    'pace: N× the recording, or max for no delays',
    speedOption,
    1 as Speed,
  )
  .option('--project <id>', 'project to add the session to (default: .kiln/dev.json projectId)')
  .option('--session <id>', 'session id (default: a new UUID)')
  .option('--json', 'print one JSON line {sessionId, projectId, url, events, turns}')
  .option(
    '--pause-after <n>',
    'once n events are acknowledged, print "paused after N events" to stderr and wait for a line on stdin',
    intOption,
  )
  .option('--server <url>', 'Kiln server (default: KILN_SERVER or .kiln/dev.json)')
  .option('--token <token>', 'access token (default: KILN_TOKEN or .kiln/dev.json)')
  .action(async (file: string, options: Omit<ReplayOptions, 'file'>) => {
    await replay({ file, ...options }, io);
  });

program
  .command('import')
  .description(
    'import recorded agent sessions (files or directories) into a project, once: re-running adds only what is new',
  )
  .argument(
    '<paths...>',
    'recordings or directories of them: Claude Code transcripts (~/.claude/projects/<slug>/) and stream-json, Codex rollouts (~/.codex/sessions/) and exec --json, OpenHands trajectories',
  )
  .option('--project <id>', 'project to add the sessions to (default: .kiln/dev.json projectId)')
  .option('--json', 'print one JSON line {projectId, sessions, skipped} instead of the table')
  .option(
    '--no-model-titles',
    'title sessions by their summary or first prompt only, even when a model is configured',
  )
  .option('--server <url>', 'Kiln server (default: KILN_SERVER or .kiln/dev.json)')
  .option('--token <token>', 'access token (default: KILN_TOKEN or .kiln/dev.json)')
  .action(
    async (
      paths: string[],
      options: {
        project?: string;
        json?: boolean;
        modelTitles: boolean;
        server?: string;
        token?: string;
      },
    ) => {
      const { modelTitles, ...rest } = options;
      const summary = await importRecordings(
        {
          paths,
          ...rest,
          progress: process.stderr.isTTY === true && !options.json,
          ...(modelTitles ? titleModel() : {}),
        },
        io,
      );
      const failed = summary.sessions.filter((s) => s.error).length;
      if (failed > 0) throw new CliError(`${failed} session(s) could not be imported`, 1);
    },
  );

/** The runner's configured model (ANTHROPIC_API_KEY, OPENAI_*), which writes short titles. */
function titleModel() {
  try {
    return { titleModel: selectModel(process.env).model };
  } catch (error) {
    if (error instanceof NoProviderError) return {}; // no model: titles come from the recordings
    throw error;
  }
}

program
  .command('watch')
  .description('follow a session live; with --json print its final state once it is not running')
  .argument('<session>', 'session id')
  .option('--json', 'print the final state as one JSON line and exit')
  .option('--server <url>', 'Kiln server (default: KILN_SERVER or .kiln/dev.json)')
  .option('--token <token>', 'access token (default: KILN_TOKEN or .kiln/dev.json)')
  .action(async (sessionId: string, options: Omit<WatchOptions, 'sessionId'>) => {
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    await watch({ sessionId, ...options }, io, stop.signal);
  });

program
  .command('runner')
  .description('run builds for your account: connect to the hub and run the requested agents')
  .option('--server <url>', 'Kiln server (default: KILN_SERVER or .kiln/dev.json)')
  .option('--token <token>', 'runner token (default: KILN_RUNNER_TOKEN)')
  .option('--workspaces <dir>', 'one workspace per project inside it', '.kiln/workspaces')
  .option('--capacity <n>', 'builds at once', intOption, 2)
  .option('--outbox <file>', 'durable outbox (default: <workspaces>/.kiln-outbox.db)')
  .option('--recordings <dir>', 'where the replay agent finds recordings (default: .)')
  .option('--speed <n|max>', 'pace of the replay agent', speedOption, 1 as Speed)
  .option(
    '--serve-preview',
    'also serve previews from this machine (a live dev server); preview URLs then point here',
  )
  .option('--preview-port <n>', 'port of the preview server (0: a free one)', intOption, 0)
  .option('--preview-host <host>', 'interface the preview server binds', '127.0.0.1')
  .option('--preview-url <origin>', 'public origin of the preview URLs (behind a proxy)')
  .option(
    '--shutdown-grace <ms>',
    'on SIGTERM, how long running turns may finish before they are interrupted',
    intOption,
    30_000,
  )
  .option(
    '--allow-unsandboxed-commands',
    'where bubblewrap cannot sandbox run_command, run commands unsandboxed instead of refusing them',
  )
  .action(async (options: RunnerCommandOptions) => {
    await runRunner(options, io.err);
  });

/**
 * Exits once stdout and stderr have drained: `process.exit` drops writes still queued on a pipe
 * (a `watch --json` state of 200 KB was cut off mid-line when the reader was slow).
 */
async function exitAfterFlush(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (stream) => new Promise<void>((resolve) => stream.write('', () => resolve())),
    ),
  );
  process.exit(code);
}

try {
  await program.parseAsync();
  // Sockets and timers are closed by now; exit explicitly so a stray handle cannot hang the CLI.
  await exitAfterFlush(0);
} catch (error) {
  if (error instanceof CliError || error instanceof ConfigError || error instanceof ServerError) {
    io.err(error.message);
    await exitAfterFlush(error instanceof CliError ? error.exitCode : 1);
  }
  io.err(
    `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  await exitAfterFlush(1);
}
