import { spawn } from 'node:child_process';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { TOOL_OUTPUT_LIMIT_BYTES } from '@kiln/protocol';
import { z } from 'zod';
import { commandEnv } from './command-env';
import { ToolError } from './errors';
import { sandboxArgv, sandboxPath, sandboxUnavailable } from './sandbox';
import { defineTool } from './tool';
import { checkPathText, resolveInWorkspace } from './workspace-path';

/** Default and largest command timeout (DESIGN §6): 30 s. */
const COMMAND_TIMEOUT_MS = 30_000;
/**
 * Bytes kept of stdout and stderr together (their first and last halves each); the rest is drained
 * and dropped, so the result's JSON stays near `TOOL_OUTPUT_LIMIT_BYTES` (runTool cuts any excess).
 */
export const COMMAND_OUTPUT_LIMIT_BYTES = TOOL_OUTPUT_LIMIT_BYTES - 2048;
/** Share of `COMMAND_OUTPUT_LIMIT_BYTES` kept of stderr. */
const STDERR_SHARE = 0.25;

/** What a finished command gives back (a non-zero `exitCode` is an output, marked as an error). */
export interface CommandResult {
  command: string;
  args: string[];
  /** Workspace-relative directory it ran in. */
  cwd: string;
  /** Exit code, or null when a signal ended it. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Whether stdout or stderr was cut at `COMMAND_OUTPUT_LIMIT_BYTES`. */
  truncated: boolean;
  durationMs: number;
}

/**
 * `run_command`: runs a program with an argv array — no shell, so no pipes, globs or `&&` — in a
 * workspace directory, with a scrubbed environment (`commandEnv`), a timeout (default and at most
 * 30 s) and its output capped (`COMMAND_OUTPUT_LIMIT_BYTES`, just under 32 KiB, head and tail
 * kept). It runs inside the bubblewrap sandbox (`sandboxArgv`: the workspace is the only writable
 * mount, a fresh PID namespace), in its own process group; on timeout or abort the group gets
 * SIGKILL, which takes the whole namespace with it (also `setsid … &`). Where the sandbox cannot
 * be made (`sandboxUnavailable`) the tool refuses with `sandbox-unavailable` unless the context
 * allows unsandboxed commands (`kiln runner --allow-unsandboxed-commands`). Arguments that look
 * like paths (absolute, or with a `..` segment, also after `--flag=`) must resolve inside the
 * workspace, and so must a program named by a path (`./build.sh`): a guard against a confused
 * model; the sandbox is the boundary.
 *
 * Throws `ToolError`: `sandbox-unavailable`, `timeout`, `aborted`, `spawn-failed` (e.g. no such
 * program), and the path guard's `path-invalid` / `path-outside-workspace` / `not-a-directory`.
 */
export const runCommandTool = defineTool({
  name: 'run_command',
  description:
    'Run a program in the workspace without a shell: `command` is the program (e.g. "npm", "node"), `args` its arguments as an array. No pipes, redirects or &&. Times out after 30 s. Returns {exitCode, stdout, stderr, truncated}.',
  inputSchema: z.object({
    command: z.string().min(1).describe('Program to run, e.g. "node" or "npm"'),
    args: z.array(z.string()).max(200).optional().describe('Arguments, one per element'),
    cwd: z.string().optional().describe('Directory relative to the workspace root (default ".")'),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .max(COMMAND_TIMEOUT_MS)
      .optional()
      .describe('Timeout in ms (default and max 30000)'),
  }),
  async execute({ command, args = [], cwd = '.', timeoutMs = COMMAND_TIMEOUT_MS }, context) {
    const dir = await resolveInWorkspace(context.workspace, cwd);
    if (!dir.exists || !(await stat(dir.absolute)).isDirectory()) {
      throw new ToolError('not-a-directory', `${dir.relative} is not a directory.`);
    }
    await checkCommandPaths(context.workspace, dir.absolute, command, args);
    const unavailable = sandboxUnavailable();
    if (unavailable !== undefined && !context.unsandboxedCommands) {
      throw new ToolError(
        'sandbox-unavailable',
        `run_command is refused: ${unavailable}. The runner runs commands only in a sandbox unless started with --allow-unsandboxed-commands.`,
      );
    }
    const env = commandEnv(context.workspace);
    let argv: [string, ...string[]] = [command, ...args];
    if (unavailable === undefined) {
      const root = await realpath(context.workspace);
      argv = sandboxArgv({ workspace: root, cwd: dir.absolute, command, args });
      env.PATH = sandboxPath();
      env.npm_config_cache = '/tmp/kiln-npm-cache';
    }
    return runProcess({
      command,
      args,
      argv,
      cwd: dir.absolute,
      cwdRelative: dir.relative,
      env,
      timeoutMs,
      signal: context.signal,
    });
  },
  isError: (result) => result.exitCode !== 0,
});

/** Refuses a program or argument that names a path outside the workspace. */
async function checkCommandPaths(
  workspace: string,
  cwd: string,
  command: string,
  args: readonly string[],
): Promise<void> {
  checkPathText(command);
  if (command.includes('/')) await resolveInWorkspace(workspace, path.resolve(cwd, command));
  for (const arg of args) {
    if (arg.includes('\0')) throw new ToolError('path-invalid', 'An argument contains a NUL byte.');
    const value = arg.startsWith('-') && arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : arg;
    if (path.isAbsolute(value) || value.split(/[\\/]/).includes('..')) {
      await resolveInWorkspace(workspace, path.resolve(cwd, value));
    }
  }
}

interface ProcessOptions {
  command: string;
  args: string[];
  /** What is spawned: `command args`, or bwrap with them after `--`. */
  argv: [string, ...string[]];
  cwd: string;
  cwdRelative: string;
  env: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
}

/** Spawns the process and collects capped output; see `runCommandTool` for the rules. */
function runProcess(options: ProcessOptions): Promise<CommandResult> {
  const { command, args, argv, cwd, env, timeoutMs, signal } = options;
  if (signal.aborted) return Promise.reject(abortedError(command));
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd,
      env,
      shell: false,
      // Its own process group, so a timeout also kills what it started (npm → sh → node).
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stderrLimit = Math.floor(COMMAND_OUTPUT_LIMIT_BYTES * STDERR_SHARE);
    const stdout = new CappedBuffer(COMMAND_OUTPUT_LIMIT_BYTES - stderrLimit);
    const stderr = new CappedBuffer(stderrLimit);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

    let ended: 'timeout' | 'aborted' | undefined;
    const killGroup = (why: 'timeout' | 'aborted') => {
      ended ??= why;
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch (error) {
        // ESRCH: the group is already gone, which is what we wanted.
        if (!(error instanceof Error && 'code' in error && error.code === 'ESRCH')) throw error;
      }
    };
    const timer = setTimeout(() => killGroup('timeout'), timeoutMs);
    const onAbort = () => killGroup('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    const cleanUp = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };

    child.on('error', (error) => {
      cleanUp();
      reject(
        new ToolError('spawn-failed', `Could not run ${command}: ${error.message}`, {
          cause: error,
        }),
      );
    });
    child.on('close', (exitCode, exitSignal) => {
      cleanUp();
      const durationMs = Math.round(performance.now() - started);
      if (ended === 'aborted') return reject(abortedError(command));
      if (ended === 'timeout') {
        return reject(
          new ToolError(
            'timeout',
            `${command} did not finish within ${timeoutMs} ms and was killed.${tail(stdout, stderr)}`,
          ),
        );
      }
      const failure = stderr.text();
      if (options.argv[0] !== command && exitCode === 1 && failure.startsWith('bwrap: ')) {
        // bwrap's own error (no such program, a mount it could not make), not the command's.
        return reject(new ToolError('spawn-failed', `Could not run ${command}: ${failure.trim()}`));
      }
      resolve({
        command,
        args,
        cwd: options.cwdRelative,
        exitCode,
        signal: exitSignal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        truncated: stdout.truncated || stderr.truncated,
        durationMs,
      });
    });
  });
}

function abortedError(command: string): ToolError {
  return new ToolError('aborted', `${command} was stopped: the turn was interrupted.`);
}

function tail(stdout: CappedBuffer, stderr: CappedBuffer): string {
  const text = `${stdout.text()}${stderr.text()}`.trim();
  return text ? `\nLast output:\n${text.slice(-2000)}` : '';
}

/**
 * Keeps the first and the last `limit / 2` bytes pushed into it (a build's errors are usually at
 * the end) and drops the middle, marking where.
 */
class CappedBuffer {
  private readonly head: Buffer[] = [];
  private headSize = 0;
  private tail: Buffer[] = [];
  private tailSize = 0;
  private dropped = 0;

  constructor(private readonly limit: number) {}

  get truncated(): boolean {
    return this.dropped > 0;
  }

  push(chunk: Buffer): void {
    const half = Math.floor(this.limit / 2);
    const room = half - this.headSize;
    if (room > 0) {
      const kept = chunk.subarray(0, room);
      this.head.push(kept);
      this.headSize += kept.length;
      chunk = chunk.subarray(kept.length);
    }
    if (chunk.length === 0) return;
    this.tail.push(chunk);
    this.tailSize += chunk.length;
    if (this.tailSize > half) {
      const joined = Buffer.concat(this.tail);
      const cut = joined.length - half;
      this.dropped += cut;
      this.tail = [joined.subarray(cut)];
      this.tailSize = half;
    }
  }

  text(): string {
    // A cut may split a multi-byte character; the decoder replaces it with U+FFFD.
    const head = Buffer.concat(this.head).toString('utf8');
    const tail = Buffer.concat(this.tail).toString('utf8');
    return this.dropped > 0 ? `${head}\n…[${this.dropped} bytes cut]…\n${tail}` : head + tail;
  }
}
