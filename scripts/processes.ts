/**
 * Starting and stopping the child processes of the dev stack (`pnpm dev`), the bench and the e2e
 * tests: wrangler (whose workerd is its child), `kiln runner`, `kiln replay`, the chaos producer.
 * Spawning, killing the whole process tree, escalating to SIGKILL and killing children when this
 * process exits are execa's; this module adds live output and waits on conditions.
 */
import { execa, type ResultPromise } from 'execa';

/** How long a stopped process gets to exit after SIGTERM before it is sent SIGKILL, ms. */
const STOP_GRACE_MS = 5000;

export interface ProcessOptions {
  cwd?: string;
  /** Added to this process's environment. */
  env?: Record<string, string | undefined>;
  /** Print the child's output to this terminal instead of collecting it (`pnpm dev`). */
  inherit?: boolean;
  /** Keep the child's stdin open for `write`/`endInput` (otherwise it is /dev/null). */
  stdin?: boolean;
  /**
   * Signal the child's whole process tree (its own process group), not only the child: for
   * wrangler, whose workerd would otherwise outlive it. Leave off for a child that stops its own
   * children gracefully on SIGTERM (`kiln runner` ends its builds first).
   */
  tree?: boolean;
}

/** A running child process: its output so far, waits on it, and a stop that always ends it. */
export interface ManagedProcess {
  readonly pid: number | undefined;
  /** True until the process has exited. */
  running(): boolean;
  /** stdout and stderr so far, interleaved as they arrived (empty with `inherit`). */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process is gone (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /**
   * Resolves with the first match once `output()` matches `pattern`; rejects if the process exits
   * first or after `timeoutMs` (a failure bound, not a pace).
   */
  waitForOutput(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Writes to the child's stdin (needs `stdin: true`). */
  write(text: string): void;
  /** Writes `text` and closes the child's stdin. */
  endInput(text?: string): void;
  /** Sends `signal` now (to the tree with `tree`), without waiting. */
  kill(signal: NodeJS.Signals): void;
  /**
   * Ends the process: `signal` (SIGTERM by default) and, if it is still there after
   * `STOP_GRACE_MS`, SIGKILL. Resolves with the exit code once it is gone, output pipes closed.
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `file args` as a managed child process. */
export function startProcess(
  file: string,
  args: readonly string[],
  options: ProcessOptions = {},
): ManagedProcess {
  const child: ResultPromise = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    stdin: options.stdin ? 'pipe' : 'ignore',
    stdout: options.inherit ? 'inherit' : 'pipe',
    stderr: options.inherit ? 'inherit' : 'pipe',
    // Output is collected below as it arrives; execa need not keep a second copy.
    buffer: false,
    reject: false,
    killDescendants: options.tree ?? false,
    forceKillAfterDelay: STOP_GRACE_MS,
    cleanup: true,
  });
  let out = '';
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stdout += text;
    out += text;
    notify();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stderr += text;
    out += text;
    notify();
  });
  let done = false;
  const exited = child.then((result) => {
    done = true;
    notify();
    return result.exitCode ?? null;
  });
  const find = (pattern: string | RegExp) =>
    typeof pattern === 'string' ? (out.includes(pattern) ? pattern : null) : pattern.exec(out)?.[0];

  return {
    pid: child.pid,
    running: () => !done,
    output: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForOutput: (pattern, timeoutMs = 60_000) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no "${pattern}" in ${timeoutMs} ms of output:\n${out}`));
        }, timeoutMs);
        function check() {
          const match = find(pattern);
          if (match == null && !done) return;
          listeners.delete(check);
          clearTimeout(timer);
          if (match != null) resolve(match);
          else reject(new Error(`the process exited before printing "${pattern}":\n${out}`));
        }
        listeners.add(check);
        check();
      }),
    write: (text) => {
      child.stdin?.write(text);
    },
    endInput: (text) => {
      child.stdin?.end(text);
    },
    kill: (signal) => {
      child.kill(signal);
    },
    stop: async (signal = 'SIGTERM') => {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}

/** Starts a TypeScript entry point on this Node, through tsx (as `pnpm kiln` does). */
export function startTsx(
  script: string,
  args: readonly string[],
  options: ProcessOptions = {},
): ManagedProcess {
  return startProcess(process.execPath, ['--import', 'tsx', script, ...args], options);
}

/**
 * Polls `probe` every `intervalMs` until it returns something other than `undefined`, and returns
 * that. Rejects after `timeoutMs` (a failure bound) naming `what`. For conditions nothing announces
 * (a server answering its health check, D1 catching up); prefer an event where there is one.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 60_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Waits until `GET url` answers 2xx. Rejects when `process` exits first (with its output) or
 * after `timeoutMs`.
 */
export async function waitForHealthy(
  url: string,
  child: ManagedProcess,
  timeoutMs = 60_000,
): Promise<void> {
  await pollUntil(
    `${url} healthy`,
    async () => {
      if (!child.running()) {
        throw new Error(
          `exited with ${await child.exited} before ${url} answered:\n${child.output()}`,
        );
      }
      try {
        return (await fetch(url)).ok ? true : undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    { timeoutMs, intervalMs: 200 },
  );
}
