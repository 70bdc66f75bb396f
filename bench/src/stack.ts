/**
 * The bench workerd: Kiln's worker plus the in-workerd peers (bench-config.ts), started the
 * way scripts/dev-stack.ts starts Kiln (same migrations, same dev account) on a free port, and
 * restartable on the same persist dir for the cold-open and chaos scenarios.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyMigrations,
  type DevConfig,
  ensureDevAccount,
  freePort,
  ROOT,
} from '../../scripts/dev-stack.ts';
import {
  type ManagedProcess,
  pollUntil,
  startProcess,
  waitForHealthy,
} from '../../scripts/processes.ts';
import { writeBenchConfig } from './bench-config.ts';

const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

export interface BenchStack {
  config: DevConfig;
  server: string;
  port: number;
  dir: string;
  /** Kills workerd (SIGKILL when `hard`) and waits for it to be gone. */
  stop: (hard?: boolean) => Promise<void>;
  /** Stops and starts again on the same port and persist dir; resolves when healthy. */
  restart: (hard?: boolean) => Promise<void>;
  /** Resident memory of the workerd process(es), bytes. */
  workerdRss: () => number;
  logs: () => string;
}

export async function startBenchStack(dir: string, port?: number): Promise<BenchStack> {
  const benchConfig = writeBenchConfig();
  const persistTo = join(dir, 'state');
  const chosenPort = port ?? (await freePort());
  const server = `http://127.0.0.1:${chosenPort}`;
  await applyMigrations(persistTo);
  const config = await ensureDevAccount(persistTo, join(dir, 'dev.json'), server);
  let worker: ManagedProcess | null = null;

  const start = async () => {
    worker = startProcess(
      process.execPath,
      [
        WRANGLER,
        'dev',
        '--config',
        benchConfig,
        '--port',
        String(chosenPort),
        '--ip',
        '127.0.0.1',
        '--persist-to',
        persistTo,
        '--show-interactive-dev-session=false',
      ],
      {
        cwd: ROOT,
        env: { WRANGLER_SEND_METRICS: 'false', CI: 'true' },
        // wrangler starts workerd as its child: stop (and kill) them together.
        tree: true,
      },
    );
    try {
      await waitForHealthy(`${server}/api/health`, worker, 90_000);
    } catch (error) {
      await worker.stop('SIGKILL');
      throw error;
    }
  };

  const stop = async (hard = false) => {
    const child = worker;
    if (!child?.pid) return;
    await child.stop(hard ? 'SIGKILL' : 'SIGTERM');
    // workerd may outlive wrangler by a moment; the port is free once nothing of the group is left.
    await pollUntil(
      'the bench workerd gone',
      () => (groupPids(child.pid!).length === 0 ? true : undefined),
      { timeoutMs: 10_000 },
    );
  };

  await start();
  return {
    config,
    server,
    port: chosenPort,
    dir,
    stop,
    restart: async (hard = false) => {
      await stop(hard);
      await start();
    },
    workerdRss: () => {
      const pid = worker?.running() ? worker.pid : undefined;
      if (!pid) return 0;
      return groupPids(pid)
        .filter((pid) => readProc(pid, 'comm').trim() === 'workerd')
        .reduce((sum, pid) => sum + rssBytes(pid), 0);
    },
    logs: () => worker?.output() ?? '',
  };
}

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return ''; // the process ended while we looked
  }
}

/** Pids whose process group is `pgid` (wrangler's, as it was spawned detached). */
function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(Number(name), 'stat');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) pids.push(Number(name));
  }
  return pids;
}

/** VmRSS of a process, bytes. */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readProc(pid, 'status'));
  return match ? Number(match[1]) * 1024 : 0;
}
