import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ToolError } from './errors';
import { defineTool } from './tool';
import { resolveInWorkspace } from './workspace-path';

/** Directories `list_files` does not descend into. */
const SKIPPED_DIRS = new Set(['.git', 'node_modules']);
/** Most entries one call returns. */
const LIST_FILES_MAX_ENTRIES = 1000;

/**
 * `list_files`: the files under a workspace directory, sorted, as paths relative to the workspace
 * root (directories end in `/`). Symlinks are listed but not followed; `.git` and `node_modules`
 * are skipped. Returns `{ entries, truncated }`.
 */
export const listFilesTool = defineTool({
  name: 'list_files',
  description:
    'List files under a workspace directory (default: the root), recursively unless `recursive` is false. Directories end in "/"; .git and node_modules are skipped.',
  inputSchema: z.object({
    path: z.string().optional().describe('Directory relative to the workspace root (default ".")'),
    recursive: z.boolean().optional().describe('Descend into subdirectories (default true)'),
  }),
  async execute({ path: input = '.', recursive = true }, { workspace, signal }) {
    const dir = await resolveInWorkspace(workspace, input);
    if (!dir.exists) throw new ToolError('not-found', `No directory at ${dir.relative}.`);
    if (!(await stat(dir.absolute)).isDirectory()) {
      throw new ToolError('not-a-directory', `${dir.relative} is not a directory.`);
    }
    const base = dir.relative === '.' ? '' : `${dir.relative}/`;
    const entries: string[] = [];
    let truncated = false;
    const walk = async (absolute: string, relative: string): Promise<void> => {
      signal.throwIfAborted();
      const children = await readdir(absolute, { withFileTypes: true });
      children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const child of children) {
        if (entries.length >= LIST_FILES_MAX_ENTRIES) {
          truncated = true;
          return;
        }
        const rel = `${relative}${child.name}`;
        if (child.isDirectory()) {
          if (SKIPPED_DIRS.has(child.name)) continue;
          entries.push(`${rel}/`);
          if (recursive) await walk(path.join(absolute, child.name), `${rel}/`);
        } else {
          entries.push(rel);
        }
      }
    };
    await walk(dir.absolute, base);
    return { entries, truncated };
  },
});
