import type { FileHandle } from 'node:fs/promises';
import { z } from 'zod';
import { ToolError } from './errors';
import { openInWorkspace, replaceContent } from './safe-file';
import { defineTool } from './tool';
import { resolveInWorkspace } from './workspace-path';

/**
 * `edit_file`: replaces an exact piece of a file. Fails with `no-match` when `oldString` is absent
 * and `ambiguous-match` (saying how many) when it occurs more than once without `replaceAll`.
 * Symlinks and hard links out of the workspace are refused (`link-refused`), never followed.
 */
export const editFileTool = defineTool({
  name: 'edit_file',
  description:
    'Replace an exact string in a workspace file. `oldString` must occur exactly once (include surrounding lines to make it unique) unless `replaceAll` is true. Returns {path, replacements}.',
  inputSchema: z.object({
    path: z.string().describe('File path relative to the workspace root'),
    oldString: z.string().min(1).describe('Exact text to replace, including whitespace'),
    newString: z.string().describe('Replacement text'),
    replaceAll: z.boolean().optional().describe('Replace every occurrence (default false)'),
  }),
  async execute({ path, oldString, newString, replaceAll }, { workspace }) {
    const target = await resolveInWorkspace(workspace, path);
    if (!target.exists) throw new ToolError('not-found', `No file at ${target.relative}.`);
    const handle = await openInWorkspace(workspace, target, false);
    try {
      return await edit(handle, target.relative, { oldString, newString, replaceAll });
    } finally {
      await handle.close();
    }
  },
});

/** The replacement itself, on a file opened by `openInWorkspace`. */
async function edit(
  handle: FileHandle,
  relative: string,
  change: { oldString: string; newString: string; replaceAll?: boolean | undefined },
): Promise<{ path: string; replacements: number }> {
  const { oldString, newString, replaceAll } = change;
  const text = await handle.readFile('utf8');
  const matches = countOccurrences(text, oldString);
  if (matches === 0) {
    throw new ToolError(
      'no-match',
      `oldString was not found in ${relative} (0 matches). Read the file and copy the text exactly.`,
    );
  }
  if (matches > 1 && !replaceAll) {
    throw new ToolError(
      'ambiguous-match',
      `oldString occurs ${matches} times in ${relative}; include more surrounding text to pick one, or set replaceAll.`,
    );
  }
  const next = replaceAll
    ? text.split(oldString).join(newString)
    : text.replace(oldString, () => newString);
  await replaceContent(handle, next);
  return { path: relative, replacements: matches };
}

/** Non-overlapping occurrences of `needle` in `text`. */
function countOccurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
    count++;
  }
  return count;
}
