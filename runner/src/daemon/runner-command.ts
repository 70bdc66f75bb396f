import path from 'node:path';
import { DemoAgent } from '../agents/demo';
import { resolveServerConfig } from '../config/server-config';
import { RunnerDaemon } from './runner-daemon';

/** Options of `kiln runner`. */
export interface RunnerCommandOptions {
  server?: string;
  token?: string;
  workspaces?: string;
  capacity?: number;
}

/**
 * `kiln runner --server URL --token T [--workspaces DIR] [--capacity N]`: runs builds for the
 * account the runner token belongs to until SIGINT/SIGTERM, then interrupts running builds,
 * flushes their events and exits. The token defaults to KILN_RUNNER_TOKEN or dev.json's
 * `runnerToken`.
 */
export async function runRunner(
  options: RunnerCommandOptions,
  log: (line: string) => void,
): Promise<void> {
  const { server, token } = resolveServerConfig({
    server: options.server,
    token: options.token ?? process.env.KILN_RUNNER_TOKEN,
  });
  const daemon = new RunnerDaemon({
    server,
    token,
    workspaces: path.resolve(options.workspaces ?? path.join(process.cwd(), '.kiln', 'workspaces')),
    capacity: options.capacity ?? 2,
    agents: [new DemoAgent()],
    version: '0.1.0',
    log,
  });
  daemon.start();
  await new Promise<void>((resolve) => {
    const stop = () => {
      log('stopping: interrupting running builds');
      void daemon.stop().then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
