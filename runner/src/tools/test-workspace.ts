import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A temporary workspace beside an "outside" directory holding a secret, for tool tests. */
export interface TestWorkspace {
  /** Real path of the workspace. */
  root: string;
  /** Real path of a directory outside it, holding `secret.txt`. */
  outside: string;
  /** Removes both. */
  dispose(): Promise<void>;
}

/**
 * Creates a workspace with `hello.txt`, `src/` and two symlinks that point out of it:
 * `link-out` (→ the outside directory) and `secret-link.txt` (→ the outside secret file).
 */
export async function createTestWorkspace(): Promise<TestWorkspace> {
  const base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'kiln-tools-')));
  const root = path.join(base, 'workspace');
  const outside = path.join(base, 'outside');
  await mkdir(path.join(root, 'src'), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(root, 'hello.txt'), 'hello\n');
  await writeFile(path.join(outside, 'secret.txt'), 'top secret\n');
  await symlink(outside, path.join(root, 'link-out'));
  await symlink(path.join(outside, 'secret.txt'), path.join(root, 'secret-link.txt'));
  return { root, outside, dispose: () => rm(base, { recursive: true, force: true }) };
}

/** Resolves with a file's content once it exists and is non-empty (fs.watch, no polling sleeps). */
export async function waitForFile(file: string, timeoutMs = 10_000): Promise<string> {
  const { watch } = await import('node:fs');
  const { readFile } = await import('node:fs/promises');
  const read = () =>
    readFile(file, 'utf8').then(
      (text) => text || undefined,
      () => undefined,
    );
  return new Promise((resolve, reject) => {
    const watcher = watch(path.dirname(file));
    const done = (error: Error | undefined, text?: string) => {
      clearTimeout(timer);
      watcher.close();
      if (error) reject(error);
      else resolve(text ?? '');
    };
    const timer = setTimeout(
      () => done(new Error(`${file} did not appear in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const check = () => {
      void read().then((text) => {
        if (text !== undefined) done(undefined, text);
      });
    };
    watcher.on('change', check);
    check();
  });
}

/** Whether a process is alive (a zombie awaiting its reaper counts as dead). */
function isRunning(pid: number): boolean {
  try {
    // Field 3 of /proc/<pid>/stat is the state; Z is a zombie, X dead.
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // no /proc entry: gone
  }
}

/** Host pids of the live processes one of whose argv entries is exactly `arg`. */
export function processesWithArg(arg: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes(arg) && isRunning(Number(entry))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked: not a match.
    }
  }
  return pids;
}

/** Whether the process is gone (or a zombie) within `ms`, checked every few ms. */
export async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (isRunning(pid)) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}
