import {
  apiError,
  type ErrorCode,
  type EventsPage,
  eventsPage,
  type ProjectMember,
  type ProjectRole,
  type ProjectSession,
  type ProjectSummary,
  type RunnerInfo,
  type SendMessageRequest,
  type SendMessageResponse,
  type SessionState,
  sessionState,
  type TracesPage,
} from '@kiln/protocol';
import { announceProjectsChanged } from './projects-sync';

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
  const project: ProjectSummary = await response.json();
  announceProjectsChanged();
  return project;
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

/** `PATCH /api/projects/:id {name}` (owner, editor). */
export async function renameProject(projectId: string, name: string): Promise<void> {
  await apiFetch(`/api/projects/${encodeURIComponent(projectId)}`, {
    method: 'PATCH',
    body: JSON.stringify({ name }),
  });
  announceProjectsChanged();
}

/** `DELETE /api/projects/:id` (owner): its sessions, builds and channel go with it. */
export async function deleteProject(projectId: string): Promise<void> {
  await apiFetch(`/api/projects/${encodeURIComponent(projectId)}`, { method: 'DELETE' });
  announceProjectsChanged();
}

/** `GET /api/projects/:id/members`. */
export async function fetchProjectMembers(
  projectId: string,
  signal?: AbortSignal,
): Promise<ProjectMember[]> {
  const response = await apiFetch(
    `/api/projects/${encodeURIComponent(projectId)}/members`,
    signal ? { signal } : {},
  );
  return ((await response.json()) as { members: ProjectMember[] }).members;
}

/** `PUT /api/projects/:id/members {email, role}` (owner): adds someone or changes their role. */
export async function putProjectMember(
  projectId: string,
  email: string,
  role: ProjectRole,
): Promise<ProjectMember> {
  const response = await apiFetch(`/api/projects/${encodeURIComponent(projectId)}/members`, {
    method: 'PUT',
    body: JSON.stringify({ email, role }),
  });
  return response.json();
}

/** `DELETE /api/projects/:id/members/:userId` (owner). */
export async function removeProjectMember(projectId: string, userId: string): Promise<void> {
  await apiFetch(
    `/api/projects/${encodeURIComponent(projectId)}/members/${encodeURIComponent(userId)}`,
    { method: 'DELETE' },
  );
}

/** `PATCH /api/projects/:projectId/sessions/:sessionId {title?, archived?}` (owner, editor). */
export async function updateSession(
  projectId: string,
  sessionId: string,
  changes: { title?: string; archived?: boolean },
): Promise<void> {
  await apiFetch(
    `/api/projects/${encodeURIComponent(projectId)}/sessions/${encodeURIComponent(sessionId)}`,
    { method: 'PATCH', body: JSON.stringify(changes) },
  );
}

/** `DELETE /api/projects/:projectId/sessions/:sessionId` (owner, editor). */
export async function deleteSession(projectId: string, sessionId: string): Promise<void> {
  await apiFetch(
    `/api/projects/${encodeURIComponent(projectId)}/sessions/${encodeURIComponent(sessionId)}`,
    { method: 'DELETE' },
  );
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

/** `GET /api/sessions/:id/events?after=&limit=`: one page of the log. */
export async function fetchEventsPage(
  sessionId: string,
  after: number,
  limit: number,
  signal?: AbortSignal,
): Promise<EventsPage> {
  const response = await apiFetch(
    `/api/sessions/${encodeURIComponent(sessionId)}/events?after=${after}&limit=${limit}`,
    signal ? { signal } : {},
  );
  const parsed = eventsPage.safeParse(await response.json());
  if (!parsed.success) throw new ApiError(200, 'bad-response', 'The events page did not parse');
  return parsed.data;
}

/** `GET /api/sessions/:id/traces?cursor=&limit=`: one page of the trace, from D1. */
export async function fetchTracesPage(
  sessionId: string,
  cursor: string | null,
  signal?: AbortSignal,
): Promise<TracesPage> {
  const query = cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
  const response = await apiFetch(
    `/api/sessions/${encodeURIComponent(sessionId)}/traces${query}`,
    signal ? { signal } : {},
  );
  return response.json();
}

/** `POST /api/projects/:projectId/sessions/:sessionId/interrupt`: 202, or 409 when no turn runs. */
export async function interruptSession(projectId: string, sessionId: string): Promise<void> {
  await apiFetch(
    `/api/projects/${encodeURIComponent(projectId)}/sessions/${encodeURIComponent(sessionId)}/interrupt`,
    { method: 'POST' },
  );
}

/** A personal access token or runner token as listed (the secret itself is shown once). */
export interface TokenSummary {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt?: number | null;
}

/** `GET /api/tokens`. */
export async function fetchTokens(signal?: AbortSignal): Promise<TokenSummary[]> {
  const response = await apiFetch('/api/tokens', signal ? { signal } : {});
  return ((await response.json()) as { tokens: TokenSummary[] }).tokens;
}

/** `POST /api/tokens {name}`: the new token, with its secret (shown once). */
export async function createToken(name: string): Promise<TokenSummary & { token: string }> {
  const response = await apiFetch('/api/tokens', {
    method: 'POST',
    body: JSON.stringify({ name }),
  });
  return response.json();
}

/** `DELETE /api/tokens/:id`. */
export async function revokeToken(id: string): Promise<void> {
  await apiFetch(`/api/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' });
}

/** `GET /api/runners`. */
export async function fetchRunners(signal?: AbortSignal): Promise<RunnerInfo[]> {
  const response = await apiFetch('/api/runners', signal ? { signal } : {});
  return ((await response.json()) as { runners: RunnerInfo[] }).runners;
}

/** `POST /api/runners {name}`: the runner token, with its secret (shown once). */
export async function createRunnerToken(
  name: string,
): Promise<{ runnerId: string; name: string; token: string }> {
  const response = await apiFetch('/api/runners', {
    method: 'POST',
    body: JSON.stringify({ name }),
  });
  return response.json();
}

/** `DELETE /api/runners/:id`: revokes the token and disconnects the runner. */
export async function revokeRunner(id: string): Promise<void> {
  await apiFetch(`/api/runners/${encodeURIComponent(id)}`, { method: 'DELETE' });
}
