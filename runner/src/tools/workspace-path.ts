import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ToolError } from './errors';

/** Longest path argument accepted, in UTF-8 bytes (Linux PATH_MAX). */
const MAX_PATH_BYTES = 4096;
/** Longest single path segment, in UTF-8 bytes (Linux NAME_MAX). */
const MAX_SEGMENT_BYTES = 255;

/** A path resolved inside a workspace. */
export interface WorkspacePath {
  /** Absolute, symlink-free path (of the target, or of the deepest existing ancestor + the rest). */
  absolute: string;
  /** Path relative to the workspace root, `/`-separated; `.` for the root itself. */
  relative: string;
  /** Whether something exists at the path. */
  exists: boolean;
}

/**
 * Resolves `input` (relative to the workspace, or absolute inside it) to a real path inside the
 * workspace. Symlinks are followed with `fs.realpath`: the target, or when it does not exist yet
 * its deepest existing ancestor, must lie inside the workspace's real path.
 *
 * Throws `ToolError` `path-invalid` (empty, NUL byte, over `MAX_PATH_BYTES` or a segment over
 * `MAX_SEGMENT_BYTES`) or `path-outside-workspace` (`..` escapes, absolute paths elsewhere, symlinks
 * pointing out). This is a guard against a confused model, not a sandbox: a process started by
 * `run_command` can still read what the runner's user can.
 */
export async function resolveInWorkspace(workspace: string, input: string): Promise<WorkspacePath> {
  checkPathText(input);
  const root = await realpath(workspace);
  const lexical = path.resolve(root, input);
  if (!isInside(root, lexical)) throw outside(input);

  let existing = lexical;
  const rest: string[] = [];
  for (;;) {
    try {
      await lstat(existing);
      break;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      rest.unshift(path.basename(existing));
      existing = path.dirname(existing);
    }
  }
  const real = await realpath(existing).catch((error: unknown) => {
    // A dangling symlink: lstat sees it, realpath cannot follow it. Treat it as pointing out.
    if (isNotFound(error)) throw outside(input);
    throw error;
  });
  const absolute = path.join(real, ...rest);
  if (!isInside(root, absolute)) throw outside(input);
  return {
    absolute,
    relative: path.relative(root, absolute).split(path.sep).join('/') || '.',
    exists: rest.length === 0,
  };
}

/** Throws `path-invalid` for text no path argument may have (empty, NUL, too long). */
export function checkPathText(input: string): void {
  if (input.length === 0) throw new ToolError('path-invalid', 'The path is empty.');
  if (input.includes('\0')) throw new ToolError('path-invalid', 'The path contains a NUL byte.');
  if (Buffer.byteLength(input) > MAX_PATH_BYTES) {
    throw new ToolError('path-invalid', `The path is longer than ${MAX_PATH_BYTES} bytes.`);
  }
  for (const segment of input.split(/[\\/]/)) {
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw new ToolError(
        'path-invalid',
        `A path segment is longer than ${MAX_SEGMENT_BYTES} bytes: ${segment.slice(0, 40)}…`,
      );
    }
  }
}

/** Whether `target` is `root` or below it (both absolute and normalised). */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function outside(input: string): ToolError {
  return new ToolError(
    'path-outside-workspace',
    `The path ${JSON.stringify(input.slice(0, 200))} is outside the workspace; use a path inside it.`,
  );
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}
