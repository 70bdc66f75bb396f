/** Why a tool call failed; shared by every tool so callers can switch on it. */
export type ToolErrorCode =
  | 'invalid-input'
  | 'path-outside-workspace'
  | 'path-invalid'
  | 'not-found'
  | 'not-a-file'
  | 'not-a-directory'
  | 'no-match'
  | 'ambiguous-match'
  | 'timeout'
  | 'aborted'
  | 'spawn-failed'
  /** `run_command` where no sandbox can be made and unsandboxed commands are not allowed. */
  | 'sandbox-unavailable'
  /** A write that would follow a symlink or a hard link out of the workspace. */
  | 'link-refused'
  /** Anything else (an IO error the tool did not expect); the cause is kept. */
  | 'unexpected';

/**
 * A tool call that could not do what it was asked. `message` is written for the model (and the
 * person watching): it says what was wrong and, where it helps, what to do instead.
 */
export class ToolError extends Error {
  override readonly name = 'ToolError';
  readonly code: ToolErrorCode;

  constructor(code: ToolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Any thrown value as a `ToolError` (a non-tool error becomes `unexpected`, or `aborted`). */
export function toToolError(error: unknown, signal?: AbortSignal): ToolError {
  if (error instanceof ToolError) return error;
  if (signal?.aborted)
    return new ToolError('aborted', 'The turn was interrupted.', { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new ToolError('unexpected', message, { cause: error });
}
