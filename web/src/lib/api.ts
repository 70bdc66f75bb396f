import {
  apiError,
  type ErrorCode,
  type ProjectSession,
  type ProjectSummary,
  type SendMessageRequest,
  type SendMessageResponse,
  type SessionState,
  sessionState,
} from '@kiln/protocol';

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

/** `POST /api/auth/sign-in/email` or `sign-up/email` (Better Auth): sets the session cookie. */
export async function signInWithPassword(
  mode: 'sign-in' | 'sign-up',
  body: { email: string; password: string; name?: string },
): Promise<void> {
  await apiFetch(`/api/auth/${mode}/email`, { method: 'POST', body: JSON.stringify(body) });
}

/** `GET /api/auth/methods`: whether GitHub sign-in is configured. */
export async function fetchAuthMethods(): Promise<{ password: boolean; github: boolean }> {
  return (await apiFetch('/api/auth/methods')).json();
}

/** `GET /api/projects`. */
export async function fetchProjects(signal?: AbortSignal): Promise<ProjectSummary[]> {
  const response = await apiFetch('/api/projects', signal ? { signal } : {});
  return ((await response.json()) as { projects: ProjectSummary[] }).projects;
}

/** `POST /api/projects`. */
export async function createProject(name: string): Promise<ProjectSummary> {
  const response = await apiFetch('/api/projects', {
    method: 'POST',
    body: JSON.stringify({ name }),
  });
  return response.json();
}

/** `GET /api/projects/:id`. */
export async function fetchProject(
  projectId: string,
  signal?: AbortSignal,
): Promise<ProjectSummary> {
  const response = await apiFetch(
    `/api/projects/${encodeURIComponent(projectId)}`,
    signal ? { signal } : {},
  );
  return response.json();
}

/** `GET /api/projects/:id/sessions`: oldest first. */
export async function fetchProjectSessions(
  projectId: string,
  signal?: AbortSignal,
): Promise<ProjectSession[]> {
  const response = await apiFetch(
    `/api/projects/${encodeURIComponent(projectId)}/sessions`,
    signal ? { signal } : {},
  );
  return ((await response.json()) as { sessions: ProjectSession[] }).sessions;
}

/** `POST /api/projects/:projectId/sessions/:sessionId/messages` (creates the session on first use). */
export async function sendMessage(
  projectId: string,
  sessionId: string,
  body: SendMessageRequest,
): Promise<SendMessageResponse> {
  const response = await apiFetch(
    `/api/projects/${encodeURIComponent(projectId)}/sessions/${encodeURIComponent(sessionId)}/messages`,
    { method: 'POST', body: JSON.stringify(body) },
  );
  return response.json();
}
