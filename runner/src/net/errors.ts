import type { ErrorCode } from '@kiln/protocol';

/**
 * A request the server refused: an HTTP error status (with the `{error:{code,message}}` body when
 * it sent one), an upgrade it refused, or an `error` frame. `status` is 0 when there was no HTTP
 * response (network error) and for socket error frames.
 */
export class ServerError extends Error {
  override name = 'ServerError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: ErrorCode | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Retrying cannot help: the request is refused for who or what it is, not for load. */
  get permanent(): boolean {
    if (this.status === 0 && this.code === undefined) return false;
    if (this.status >= 400 && this.status < 500) return this.status !== 408 && this.status !== 429;
    return this.code !== undefined && PERMANENT_CODES.has(this.code);
  }
}

/** Socket error codes after which reconnecting and resending would be refused again. */
const PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'bad-frame',
  'bad-request',
  'frame-too-large',
  'event-too-large',
  'stale-epoch',
  'no-lease',
  'unauthorized',
  'forbidden',
  'not-found',
]);

/** A person-readable line for a failed HTTP status. */
export function describeStatus(status: number, message: string): string {
  switch (status) {
    case 401:
      return `the server refused the token (401): ${message}`;
    case 403:
      return `the token may not do this (403): ${message}`;
    case 404:
      return `not found (404): ${message}`;
    default:
      return `the server answered ${status}: ${message}`;
  }
}
