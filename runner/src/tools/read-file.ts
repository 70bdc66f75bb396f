import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { ToolError } from './errors';
import { defineTool } from './tool';
import { resolveInWorkspace } from './workspace-path';

/** Files larger than this are refused (read them with `run_command` and `head`, or in parts). */
const READ_FILE_MAX_BYTES = 1024 * 1024;

/** `read_file`: a UTF-8 text file of the workspace, as a string. */
export const readFileTool = defineTool({
  name: 'read_file',
  description:
    'Read a UTF-8 text file in the workspace. `path` is relative to the workspace root. Returns the file content.',
  inputSchema: z.object({ path: z.string().describe('File path relative to the workspace root') }),
  async execute({ path }, { workspace }) {
    const target = await resolveInWorkspace(workspace, path);
    if (!target.exists) throw new ToolError('not-found', `No file at ${target.relative}.`);
    const info = await stat(target.absolute);
    if (!info.isFile()) throw new ToolError('not-a-file', `${target.relative} is not a file.`);
    if (info.size > READ_FILE_MAX_BYTES) {
      throw new ToolError(
        'invalid-input',
        `${target.relative} is ${info.size} bytes; read_file reads at most ${READ_FILE_MAX_BYTES}.`,
      );
    }
    return readFile(target.absolute, 'utf8');
  },
});
