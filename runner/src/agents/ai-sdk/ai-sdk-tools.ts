import { type Tool, tool } from 'ai';
import {
  type KilnTool,
  kilnTools,
  runTool,
  type ToolCallContext,
  WRITE_TOOL_NAMES,
} from '../../tools';

/** What the agent learns from the tool calls of a round. */
export interface ToolCallLog {
  /** Ids of the calls `runTool` recorded. */
  recorded: Set<string>;
  /** Whether a write tool (write_file, edit_file) succeeded. */
  wroteFiles: boolean;
}

/**
 * The Kiln tools as AI SDK tools. Each call goes through `runTool`, so it is recorded as
 * `tool-input-available` / `tool-output-available` with its duration under the model's tool call
 * id; a failed call throws its `ToolError`, which the SDK hands back to the model as a tool error
 * (so it can recover), and the model gets the capped output. `readOnly` leaves out the tools that
 * change the workspace (write_file, edit_file, run_command).
 */
export function toAiSdkTools(
  ctx: ToolCallContext,
  log: ToolCallLog,
  readOnly = false,
): Record<string, Tool> {
  const adapt = <Input, Output>(kiln: KilnTool<Input, Output>): Tool =>
    tool({
      description: kiln.description,
      inputSchema: kiln.inputSchema,
      execute: async (input: Input, { toolCallId }) => {
        log.recorded.add(toolCallId);
        const result = await runTool(kiln, input, toolCallId, ctx);
        if (!result.ok) throw result.error;
        if (WRITE_TOOL_NAMES.has(kiln.name)) log.wroteFiles = true;
        return result.output;
      },
    });
  const look = {
    read_file: adapt(kilnTools.read_file),
    list_files: adapt(kilnTools.list_files),
    todo_write: adapt(kilnTools.todo_write),
  };
  if (readOnly) return look;
  return {
    ...look,
    write_file: adapt(kilnTools.write_file),
    edit_file: adapt(kilnTools.edit_file),
    run_command: adapt(kilnTools.run_command),
  };
}
