import path from 'node:path';
import { resolveServerConfig } from '../config/server-config';
import type { Speed } from '../replay/pacing';
import { createAgents } from './agents';
import { PreviewServer } from './preview-server';
import { RunnerDaemon } from './runner-daemon';

/**
 * Options of `kiln runner`, exactly as commander parses its flags (`--shutdown-grace` →
 * `shutdownGrace`), so that the CLI and this command share one type.
 */
export interface RunnerCommandOptions {
  server?: string;
  token?: string;
  workspaces?: string;
  capacity?: number;
  /** Outbox file (default `<workspaces>/.kiln-outbox.db`). */
  outbox?: string;
  /** Where the `replay` agent finds recordings (default: the current directory). */
  recordings?: string;
  /** Pace of the `replay` agent. */
  speed?: Speed;
  /**
   * Serve previews from this machine (`--serve-preview`, for a live dev server) instead of Kiln's
   * apps origin; then the preview port (0 = a free one), host to bind and public origin apply.
   */
  servePreview?: boolean;
  previewPort?: number;
  previewHost?: string;
  previewUrl?: string;
  /** On SIGTERM, how long running turns may go on before they are interrupted, ms. */
  shutdownGrace?: number;
  /** Run `run_command` unsandboxed where bubblewrap cannot sandbox it (default: refuse). */
  allowUnsandboxedCommands?: boolean;
}

const RUNNER_VERSION = '0.1.0';

/**
 * `kiln runner --server URL --token T [--workspaces DIR] [--capacity N] …`: runs builds for the
 * account the runner token belongs to until SIGINT/SIGTERM; then it takes no new builds, lets the
 * running ones finish (up to the grace period, then interrupts them), flushes their events and
 * resolves. The token defaults to KILN_RUNNER_TOKEN or dev.json's `runnerToken`.
 */
export async function runRunner(
  options: RunnerCommandOptions,
  log: (line: string) => void,
): Promise<void> {
  const { server, token } = resolveServerConfig({
    server: options.server,
    token: options.token ?? process.env.KILN_RUNNER_TOKEN,
  });
  const workspaces = path.resolve(
    options.workspaces ?? path.join(process.cwd(), '.kiln', 'workspaces'),
  );
  const preview = options.servePreview
    ? new PreviewServer({
        workspaces,
        port: options.previewPort ?? 0,
        ...(options.previewHost ? { host: options.previewHost } : {}),
        ...(options.previewUrl ? { publicUrl: options.previewUrl } : {}),
        onError: (error) =>
          log(`preview: ${error instanceof Error ? error.message : String(error)}`),
      })
    : undefined;
  const previewOrigin = await preview?.start();
  const demoDelay = process.env.KILN_DEMO_CHUNK_DELAY_MS;
  const daemon = new RunnerDaemon({
    server,
    token,
    workspaces,
    capacity: options.capacity ?? 2,
    agents: createAgents({
      env: process.env,
      recordings: path.resolve(options.recordings ?? process.cwd()),
      speed: options.speed ?? 1,
      ...(demoDelay ? { demoChunkDelayMs: Number(demoDelay) } : {}),
      ...(process.env.KILN_DEMO_HOLD_ON_PROMPT
        ? { demoHoldOnPrompt: process.env.KILN_DEMO_HOLD_ON_PROMPT }
        : {}),
    }),
    ...(options.outbox ? { outboxPath: path.resolve(options.outbox) } : {}),
    ...(preview ? { preview } : {}),
    unsandboxedCommands: options.allowUnsandboxedCommands ?? false,
    version: RUNNER_VERSION,
    log,
  });
  // Signals first: a SIGTERM during start-up must still stop gracefully.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      log('stopping: no new builds; waiting for running turns');
      void daemon.stop({ graceMs: options.shutdownGrace ?? 30_000 }).then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await daemon.start();
  log(
    `previews ${previewOrigin ? `at ${previewOrigin}/<projectId>/` : 'on Kiln'}; workspaces in ${workspaces}`,
  );
  await stopped;
  log('stopped');
}
