import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { freePort, queryLocalD1, ROOT, type Stack, startStack } from '../scripts/dev-stack.ts';

const run = promisify(execFile);

/** The recorded runs shipped beside the repository (`../shared/fixtures/recorded`). */
export const FIXTURES = resolve(ROOT, '..', 'shared', 'fixtures', 'recorded');

/** A dev stack in a throwaway directory on a free port; with `runner`, a local demo runner too. */
export async function startTestStack(
  options: { runner?: boolean } = {},
): Promise<Stack & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-'));
  const stack = await startStack({
    persistTo: join(dir, 'state'),
    port: await freePort(),
    configPath: join(dir, 'dev.json'),
    ...(options.runner ? { runnerWorkspaces: join(dir, 'workspaces') } : {}),
  });
  return {
    ...stack,
    dir,
    stop: async () => {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the `kiln` CLI (as `pnpm kiln` does) against the stack; resolves with its stdout. */
export async function kiln(stack: Stack, args: string[]): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'runner', 'src', 'cli.ts'),
      ...args,
      '--server',
      stack.config.server,
      '--token',
      stack.config.token,
    ],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
  );
  return stdout;
}

/** A `kiln replay … --pause-after N` the test holds: `paused` resolves once N events are acked. */
export interface HeldReplay {
  /** Resolves with the number of events acknowledged when the replay stopped to wait. */
  paused: Promise<number>;
  /** Lets the replay stream the rest (one line on its stdin). */
  resume: () => void;
  /** Resolves with stdout once the replay exits 0; rejects with its stderr otherwise. */
  done: Promise<string>;
}

/**
 * Starts `kiln replay FILE --pause-after N …args` against the stack and holds it after N events,
 * so "mid-stream" does not depend on how fast the machine is.
 */
export function heldReplay(
  stack: Stack,
  file: string,
  pauseAfter: number,
  args: string[],
): HeldReplay {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'runner', 'src', 'cli.ts'),
      'replay',
      file,
      '--pause-after',
      String(pauseAfter),
      ...args,
      '--server',
      stack.config.server,
      '--token',
      stack.config.token,
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let onPaused: (events: number) => void = () => {};
  const paused = new Promise<number>((resolvePaused) => {
    onPaused = resolvePaused;
  });
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const match = /paused after (\d+) events/.exec(stderr);
    if (match) onPaused(Number(match[1]));
  });
  const done = new Promise<string>((resolveDone, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolveDone(stdout);
      else reject(new Error(`kiln replay exited ${code}: ${stderr}`));
    });
  });
  // A replay that fails before pausing must fail the wait for the pause too.
  const pausedOrFailed = Promise.race([
    paused,
    done.then(() => {
      throw new Error(`kiln replay finished without pausing: ${stderr}`);
    }),
  ]);
  pausedOrFailed.catch(() => {}); // observed by the test through `paused`
  return { paused: pausedOrFailed, resume: () => child.stdin.end('\n'), done };
}

/** Debian's Chromium, headless, with the flags this closed network needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** GET an API path as the dev user. */
export async function apiGet<T>(stack: Stack, path: string): Promise<T> {
  const res = await fetch(`${stack.config.server}${path}`, {
    headers: { Authorization: `Bearer ${stack.config.token}` },
  });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Rows from the stack's local D1 (read with wrangler while the worker runs). */
export function d1Query<T>(stack: Stack & { dir: string }, sql: string): Promise<T[]> {
  return queryLocalD1<T>(join(stack.dir, 'state'), sql);
}
