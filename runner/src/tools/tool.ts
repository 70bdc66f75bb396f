import type { RunnerEventBody } from '@kiln/protocol';
import type { z } from 'zod';

/** What every tool call gets besides its input. */
export interface ToolContext {
  /** Absolute path of the workspace; every path the tool touches resolves inside it. */
  workspace: string;
  /** Aborted on interrupt: the tool stops (and kills its child process) and throws `aborted`. */
  signal: AbortSignal;
  /**
   * Let `run_command` run commands without the sandbox where none can be made (bwrap missing or
   * user namespaces disabled); default false: it refuses there.
   */
  unsandboxedCommands?: boolean;
}

/**
 * A tool the agents can call. The fields match the Vercel AI SDK's `tool({ description,
 * inputSchema, execute })`, so `tool({ ...kilnTool, execute: (input, opts) => … })` is a one-liner
 * (see `toAiSdkTools`). `execute` returns a JSON value or a string and throws `ToolError` on
 * failure; `runTool` adds the events, timing and output cap.
 */
export interface KilnTool<Input = unknown, Output = unknown> {
  /** The name the model calls it by (snake_case). */
  readonly name: string;
  readonly description: string;
  readonly inputSchema: z.ZodType<Input>;
  execute(input: Input, context: ToolContext): Promise<Output>;
  /** Whether a returned output is nonetheless a failure (e.g. a non-zero exit code). */
  isError?(output: Output): boolean;
  /** Events the call implies besides its output (e.g. `todos-updated` for `todo_write`). */
  events?(output: Output): RunnerEventBody[];
}

/** Defines a tool with its input and output types inferred. */
export function defineTool<Input, Output>(tool: KilnTool<Input, Output>): KilnTool<Input, Output> {
  return tool;
}
