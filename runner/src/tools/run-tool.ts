import { capToolOutput, type RunnerEventBody } from '@kiln/protocol';
import { z } from 'zod';
import { ToolError, toToolError } from './errors';
import type { KilnTool, ToolContext } from './tool';

/** What `runTool` needs: the tool context plus the turn's event sink. */
export interface ToolCallContext extends ToolContext {
  emit(event: RunnerEventBody): void;
}

/** The outcome of one tool call, as the model should see it. */
export type ToolRunResult<Output> =
  | {
      ok: true;
      /** The tool's own return value (uncapped), for the caller's logic. */
      value: Output;
      /** The output as emitted: capped at 32 KiB of JSON (a string when cut). */
      output: unknown;
      truncated: boolean;
      /** The tool counts this output as a failure (e.g. a non-zero exit code). */
      isError: boolean;
      durationMs: number;
    }
  | { ok: false; error: ToolError; durationMs: number };

/**
 * Runs one tool call for an agent and records it: emits `tool-input-available` with the raw input,
 * validates the input with the tool's schema, executes it, and emits `tool-output-available` with
 * the measured `durationMs` (ms, monotonic clock), `isError`, the output cut by `capToolOutput`
 * and `truncated`; then any events the tool implies (`todos-updated`). A failure — invalid input,
 * a `ToolError`, or anything else thrown — is emitted as an error output (its message) and
 * returned as `{ ok: false }`; `runTool` itself never throws.
 */
export async function runTool<Input, Output>(
  tool: KilnTool<Input, Output>,
  input: unknown,
  toolCallId: string,
  context: ToolCallContext,
): Promise<ToolRunResult<Output>> {
  context.emit({ type: 'tool-input-available', toolCallId, toolName: tool.name, input });
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const parsed = tool.inputSchema.safeParse(input);
    if (!parsed.success) {
      throw new ToolError(
        'invalid-input',
        `Invalid input for ${tool.name}: ${z.prettifyError(parsed.error)}`,
      );
    }
    const value = await tool.execute(parsed.data, context);
    const durationMs = elapsed();
    const capped = capToolOutput(value);
    const isError = tool.isError?.(value) ?? false;
    context.emit({
      type: 'tool-output-available',
      toolCallId,
      output: capped.output,
      isError,
      truncated: capped.truncated,
      durationMs,
    });
    if (!isError) for (const event of tool.events?.(value) ?? []) context.emit(event);
    return {
      ok: true,
      value,
      output: capped.output,
      truncated: capped.truncated,
      isError,
      durationMs,
    };
  } catch (thrown) {
    const durationMs = elapsed();
    const error = toToolError(thrown, context.signal);
    const capped = capToolOutput(error.message);
    context.emit({
      type: 'tool-output-available',
      toolCallId,
      output: capped.output,
      isError: true,
      truncated: capped.truncated,
      durationMs,
    });
    return { ok: false, error, durationMs };
  }
}
