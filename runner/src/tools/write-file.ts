import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ToolError } from './errors';
import { defineTool } from './tool';
import { resolveInWorkspace } from './workspace-path';

/** `write_file`: creates or replaces a text file (and its parent directories). */
export const writeFileTool = defineTool({
  name: 'write_file',
  description:
    'Create or overwrite a UTF-8 text file in the workspace, creating parent directories. `path` is relative to the workspace root. Returns {path, bytes}.',
  inputSchema: z.object({
    path: z.string().describe('File path relative to the workspace root'),
    content: z.string().describe('The whole new content of the file'),
  }),
  async execute({ path: input, content }, { workspace }) {
    const target = await resolveInWorkspace(workspace, input);
    if (target.exists && !(await stat(target.absolute)).isFile()) {
      throw new ToolError('not-a-file', `${target.relative} exists and is not a file.`);
    }
    await mkdir(path.dirname(target.absolute), { recursive: true });
    await writeFile(target.absolute, content, 'utf8');
    return { path: target.relative, bytes: Buffer.byteLength(content) };
  },
});
