import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { PermissionMode } from '@kiln/protocol';
import type { Agent, TurnContext } from '../agent';
import { createMapper } from '../index';
import { LiveMapping } from '../live-mapping';
import type { RecordingFormat } from '../mapper';
import { lineTimestamp } from '../recording';
import { findExecutable } from './find-executable';

/** A CLI agent's `checkpoint.state`: the CLI's own session (Claude Code) or thread (Codex) id. */
interface CliCheckpoint {
  version: 1;
  /** `claude --resume <id>` / `codex exec resume <id>`. */
  resumeId: string;
}

/** What differs between the coding-agent CLIs the runner drives. */
export interface CliSpec {
  /** Agent name (`claude-code`, `codex`). */
  name: string;
  /** Executable looked up on PATH (`claude`, `codex`). */
  command: string;
  /** How to install it, for the error when it is missing. */
  install: string;
  format: RecordingFormat;
  /** argv after the command for one turn. */
  args(
    prompt: string,
    model: string,
    resumeId: string | undefined,
    permissionMode: PermissionMode | undefined,
  ): string[];
  /** The session/thread id a line announces, if it does. */
  resumeIdOf(line: unknown): string | undefined;
  /** Prefix message/tool ids with the turn id (Codex numbers its items per process). */
  scopeIds: boolean;
}

/** Options of a CLI agent. */
export interface CliAgentOptions {
  /** Environment for the lookup and the child; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Time between SIGTERM and SIGKILL on interrupt, ms; default 500. */
  killGraceMs?: number;
}

/**
 * Runs a coding-agent CLI in JSON streaming mode for one turn, in the workspace, and maps its
 * stdout line by line with the same mapper `kiln replay` uses (PROTOCOL.md §7). The CLI's session
 * or thread id becomes the checkpoint; the next turn resumes it. On abort the CLI's process group
 * gets SIGTERM, then SIGKILL after `killGraceMs`, and `run` returns once it has exited. A missing
 * CLI makes `unavailable()` say why (the daemon does not advertise the agent) and `run` throw it.
 */
export class CliAgent implements Agent {
  readonly name: string;

  constructor(
    private readonly spec: CliSpec,
    private readonly options: CliAgentOptions = {},
  ) {
    this.name = spec.name;
  }

  unavailable(): string | undefined {
    if (findExecutable(this.spec.command, this.options.env ?? process.env)) return undefined;
    return `the ${this.spec.name} agent needs the \`${this.spec.command}\` CLI on PATH (${this.spec.install})`;
  }

  async run(ctx: TurnContext): Promise<void> {
    const env = this.options.env ?? process.env;
    const executable = findExecutable(this.spec.command, env);
    if (!executable) throw new Error(this.unavailable());
    const previous = ctx.checkpoint as Partial<CliCheckpoint> | undefined;
    // A checkpoint's id not in the CLIs' format (a uuid-like token) is dropped: the turn starts a
    // new CLI session rather than pass text such as `--dangerously-skip-permissions` to the CLI.
    let resumeId = validResumeId(previous?.resumeId);
    ctx.signal.throwIfAborted();
    const child = spawn(
      executable,
      this.spec.args(ctx.prompt, ctx.model, resumeId, ctx.permissionMode),
      {
        cwd: ctx.workspace,
        env: cliEnv(env),
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group, so an interrupt also ends what the CLI started (tools, shells).
        detached: true,
      },
    );
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => resolve({ code, signal }));
      },
    );
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // The group is gone already: nothing left to stop.
      }
    };
    const onAbort = () => {
      kill('SIGTERM');
      killTimer = setTimeout(() => kill('SIGKILL'), this.options.killGraceMs ?? 500);
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const mapper = createMapper(this.spec.format, {
      buildId: ctx.buildId,
      // LiveMapping drops the mapper's turn-started (the daemon opens the turn), so this is unused.
      producerId: this.name,
      agent: this.name,
      model: ctx.model,
      turnIdPrefix: ctx.turnId,
    });
    const mapping = new LiveMapping(ctx.emit, this.spec.scopeIds ? ctx.turnId : undefined);
    let lineNumber = 0;
    try {
      for await (const text of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
        lineNumber++;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          continue; // CLIs print the odd non-JSON line (warnings); the mappers skip them anyway
        }
        resumeId = validResumeId(this.spec.resumeIdOf(value)) ?? resumeId;
        if (ctx.signal.aborted) continue; // drain, but nothing after the interrupt
        const at = lineTimestamp(value);
        mapping.push(
          mapper.push(at === undefined ? { lineNumber, value } : { lineNumber, value, at }),
        );
      }
      const { code, signal } = await exited;
      if (ctx.signal.aborted) return;
      mapping.push(mapper.end());
      if (resumeId) {
        const state: CliCheckpoint = { version: 1, resumeId };
        ctx.emit({ type: 'checkpoint', turnId: ctx.turnId, agent: this.name, state });
      }
      if (mapping.outcome?.status !== 'completed' && code !== 0) {
        const why = signal ? `was killed by ${signal}` : `exited with ${code}`;
        throw new Error(`${this.spec.command} ${why}${stderr ? `: ${stderr.trim()}` : ''}`);
      }
      mapping.throwUnlessCompleted(this.spec.command);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      if (child.exitCode === null && child.signalCode === null) {
        kill('SIGKILL');
        await exited.catch(() => undefined); // spawn errors are reported by the await above
      }
      clearTimeout(killTimer);
    }
  }
}

/**
 * The CLI's environment: the runner's, since the CLI needs its own provider keys and config,
 * less Kiln's credentials (KILN_*TOKEN*): the CLI runs whatever commands its model chooses.
 */
function cliEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !/^KILN_.*(TOKEN|SECRET|PASSWORD)/i.test(name)),
  );
}

/** What a CLI session or thread id may look like: a uuid-like token, 1–128 characters. */
const RESUME_ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z_-]{0,127}$/;

/** `value` when it is a string matching `RESUME_ID_PATTERN`, else undefined. */
function validResumeId(value: unknown): string | undefined {
  return typeof value === 'string' && RESUME_ID_PATTERN.test(value) ? value : undefined;
}
