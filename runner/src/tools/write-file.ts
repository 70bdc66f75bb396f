import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { openInWorkspace, replaceContent } from './safe-file';
import { defineTool } from './tool';
import { resolveInWorkspace } from './workspace-path';

/**
 * `write_file`: creates or replaces a text file (and its parent directories). Symlinks and hard
 * links out of the workspace are refused (`openInWorkspace`), never followed.
 */
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
    await mkdir(path.dirname(target.absolute), { recursive: true });
    const handle = await openInWorkspace(workspace, target, true);
    try {
      await replaceContent(handle, content);
    } finally {
      await handle.close();
    }
    return { path: target.relative, bytes: Buffer.byteLength(content) };
  },
});
