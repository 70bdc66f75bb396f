import type { PermissionMode, RunnerEventBody } from '@kiln/protocol';

/**
 * A live coding agent the runner daemon can run for one turn of a build.
 *
 * The daemon owns the turn's edges: it emits `turn-started` before `run` and `turn-finished`
 * after it (`completed` when `run` resolves, `interrupted` when `signal` was aborted, `failed` with
 * the error's message when `run` throws). The agent emits everything in between — messages,
 * deltas, tool calls, todos, usage, diagnostics, preview — and, last, a `checkpoint` holding what
 * it needs to continue the conversation in the next turn (possibly on another runner).
 */
export interface Agent {
  /** The name builds ask for (`demo`, `replay`, `ai-sdk`, `claude-code`, `codex`). */
  readonly name: string;
  /**
   * Why this agent cannot run here (a CLI missing from PATH), or undefined when it can. The daemon
   * advertises only available agents in its `hello`.
   */
  unavailable?(): string | undefined;
  /** Resolves when the turn is done; must stop within a second of `ctx.signal` aborting. */
  run(ctx: TurnContext): Promise<void>;
}

/** Everything an agent gets for one turn. */
export interface TurnContext {
  buildId: string;
  sessionId: string;
  projectId: string;
  turnId: string;
  /** The person's prompt for this turn. */
  prompt: string;
  /** Model id the build asked for ('' = the agent's default). */
  model: string;
  /**
   * What the agent may do without asking (PROTOCOL.md §8); undefined = the agent's default.
   * Nobody can answer a prompt here, so `default` means the agent's safe, read-only mode.
   */
  permissionMode?: PermissionMode;
  /** The previous turn's `checkpoint.state`, if any. */
  checkpoint?: unknown;
  /** Absolute path of the project's workspace directory; every file the agent touches is inside. */
  workspace: string;
  /** `run_command` may run unsandboxed where no sandbox can be made (`ToolContext`). */
  unsandboxedCommands?: boolean;
  /** Aborted on interrupt, cancel or shutdown. */
  signal: AbortSignal;
  /** Hands an event to the durable outbox (written locally before it is sent). */
  emit(event: RunnerEventBody): void;
}
