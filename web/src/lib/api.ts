import { apiError, type ErrorCode, type SessionState, sessionState } from '@kiln/protocol';

/** An HTTP error from the API, with the `{ error: { code, message } }` body when it had one. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network' | 'bad-response',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The signed-in person (`GET /api/me`). */
export interface Me {
  id: string;
  email: string;
  name: string;
}

/**
 * Calls the API on the same origin with the session cookie. Resolves with the response for 2xx;
 * throws `ApiError` otherwise (status 0 with code `network` when the request never got an answer).
 */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, {
      credentials: 'same-origin',
      ...init,
      headers: {
        accept: 'application/json',
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
    });
  } catch (cause) {
    throw new ApiError(0, 'network', 'Cannot reach the server.', { cause });
  }
  if (response.ok) return response;
  const body: unknown = await response.json().catch(() => null);
  const parsed = apiError.safeParse(body);
  if (parsed.success) {
    throw new ApiError(response.status, parsed.data.error.code, parsed.data.error.message);
  }
  throw new ApiError(
    response.status,
    response.status === 401 ? 'unauthorized' : 'internal',
    `${response.status} ${response.statusText}`.trim(),
  );
}

/** True for the error that means "sign in first". */
export function isUnauthorized(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401;
}

/** `GET /api/me`. */
export async function fetchMe(signal?: AbortSignal): Promise<Me> {
  const response = await apiFetch('/api/me', signal ? { signal } : {});
  const body: unknown = await response.json();
  if (!isMeBody(body))
    throw new ApiError(response.status, 'bad-response', 'Unexpected /api/me body');
  return body.user;
}

/** `POST /api/auth/token`: signs this browser in with a personal access token (sets the cookie). */
export async function signInWithToken(token: string): Promise<void> {
  await apiFetch('/api/auth/token', { method: 'POST', body: JSON.stringify({ token }) });
}

/** `POST /api/auth/sign-out`. */
export async function signOut(): Promise<void> {
  await apiFetch('/api/auth/sign-out', { method: 'POST' });
}

/** `GET /api/sessions/:id/state`, validated against the protocol's `sessionState`. */
export async function fetchSessionState(
  sessionId: string,
  signal?: AbortSignal,
): Promise<SessionState> {
  const response = await apiFetch(
    `/api/sessions/${encodeURIComponent(sessionId)}/state`,
    signal ? { signal } : {},
  );
  const parsed = sessionState.safeParse(await response.json());
  if (!parsed.success) throw new ApiError(200, 'bad-response', 'The session state did not parse');
  return parsed.data;
}

function isMeBody(body: unknown): body is { user: Me } {
  if (typeof body !== 'object' || body === null || !('user' in body)) return false;
  const user: unknown = body.user;
  return (
    typeof user === 'object' &&
    user !== null &&
    'id' in user &&
    typeof user.id === 'string' &&
    'email' in user &&
    typeof user.email === 'string'
  );
}
