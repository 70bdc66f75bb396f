/**
 * The bench workerd: Kiln's worker plus the in-workerd peers (bench-config.ts), started the
 * way scripts/dev-stack.ts starts Kiln (same migrations, same dev account) on a free port, and
 * restartable on the same persist dir for the cold-open and chaos scenarios.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyMigrations,
  type DevConfig,
  ensureDevAccount,
  freePort,
  ROOT,
} from '../../scripts/dev-stack.ts';
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
  let output = '';
  let worker: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    output = '';
    const child = spawn(
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
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
        stdio: 'pipe',
        detached: true,
      },
    );
    worker = child;
    // Whatever ends this process (an uncaught error, a signal), workerd must not outlive it.
    process.once('exit', () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    });
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
      try {
        const res = await fetch(`${server}/api/health`);
        if (res.ok) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        await stop(true);
        throw new Error(`bench workerd not healthy in 90 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const stop = async (hard = false) => {
    const child = worker;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const signal = hard ? 'SIGKILL' : 'SIGTERM';
    try {
      // wrangler starts workerd as a child: signal the whole process group.
      process.kill(-child.pid!, signal);
    } catch {
      child.kill(signal);
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
    // workerd may outlive wrangler by a moment; wait until nothing of the group is left.
    for (let i = 0; i < 50 && groupPids(child.pid!).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
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
      const child = worker;
      if (!child?.pid) return 0;
      return groupPids(child.pid)
        .filter((pid) => readProc(pid, 'comm').trim() === 'workerd')
        .reduce((sum, pid) => sum + rssBytes(pid), 0);
    },
    logs: () => output,
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
