import { constants, type FileHandle, open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ToolError } from './errors';
import { isInside, type WorkspacePath } from './workspace-path';

/**
 * Opens a resolved workspace file for writing (`create`: make it if missing) without following
 * links out: the parent's real path must still be inside the workspace, the last component is
 * opened with `O_NOFOLLOW` (a symlink swapped in since the check fails), and the opened file must
 * be a regular file with one link (a hard link would let the write change a file elsewhere).
 * The file is not truncated; the caller reads or truncates it through the handle.
 *
 * Throws `ToolError` `link-refused`, `not-a-file` or `path-outside-workspace`.
 */
export async function openInWorkspace(
  workspace: string,
  target: WorkspacePath,
  create: boolean,
): Promise<FileHandle> {
  const root = await realpath(workspace);
  const parent = await realpath(path.dirname(target.absolute));
  if (!isInside(root, parent)) {
    throw new ToolError('path-outside-workspace', `${target.relative} is outside the workspace.`);
  }
  const flags = constants.O_RDWR | constants.O_NOFOLLOW | (create ? constants.O_CREAT : 0);
  let handle: FileHandle;
  try {
    handle = await open(path.join(parent, path.basename(target.absolute)), flags, 0o666);
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ELOOP') {
      throw linkRefused(target, 'is a symbolic link');
    }
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new ToolError('not-a-file', `${target.relative} is not a file.`);
    if (info.nlink > 1) throw linkRefused(target, `has ${info.nlink} hard links`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Replaces the whole content of a handle opened by `openInWorkspace`. */
export async function replaceContent(handle: FileHandle, content: string): Promise<void> {
  await handle.truncate(0);
  await handle.write(content, 0, 'utf8');
}

function linkRefused(target: WorkspacePath, why: string): ToolError {
  return new ToolError(
    'link-refused',
    `${target.relative} ${why}; writes do not follow links, so it could change a file outside the workspace. Remove it first or write another path.`,
  );
}
