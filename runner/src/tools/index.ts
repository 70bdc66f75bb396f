import { editFileTool } from './edit-file';
import { listFilesTool } from './list-files';
import { readFileTool } from './read-file';
import { runCommandTool } from './run-command';
import { todoWriteTool } from './todo-write';
import { writeFileTool } from './write-file';

export { parseBuildErrors } from './build-errors';
export { editFileTool } from './edit-file';
export { readFileTool } from './read-file';
export { type CommandResult, runCommandTool } from './run-command';
export { runTool, type ToolCallContext } from './run-tool';
export { todoWriteTool } from './todo-write';
export type { KilnTool } from './tool';
export { writeFileTool } from './write-file';

/** The tools the live agents get (DESIGN §6), by name. */
export const kilnTools = {
  read_file: readFileTool,
  write_file: writeFileTool,
  edit_file: editFileTool,
  list_files: listFilesTool,
  todo_write: todoWriteTool,
  run_command: runCommandTool,
} as const;

/** Tools that change files: after them the auto-fix loop runs the build. */
export const WRITE_TOOL_NAMES: ReadonlySet<string> = new Set(['write_file', 'edit_file']);
