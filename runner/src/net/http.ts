import { apiError } from '@kiln/protocol';
import type { z } from 'zod';
import { describeStatus, ServerError } from './errors';

/** Where and as whom the CLI talks to a Kiln server. */
export interface ServerAuth {
  /** http(s) origin, e.g. `http://localhost:8787`. */
  server: string;
  /** Personal access token, sent as `Authorization: Bearer …`. */
  token: string;
}

/**
 * Sends a JSON request and parses the answer with `schema`. Errors: `ServerError` with the HTTP
 * status and the body's error code (status 0 when the server could not be reached).
 */
export async function requestJson<T>(
  auth: ServerAuth,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  schema: z.ZodType<T>,
  body?: unknown,
): Promise<T> {
  const response = await send(auth, method, path, {
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined; // a 2xx with a body that is not JSON is reported below as a bad body
  }
  const url = new URL(path, auth.server);
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new ServerError(
      `${method} ${url.pathname}: unexpected response body`,
      response.status,
      undefined,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/**
 * `PUT`s raw bytes (`application/octet-stream`) and expects a 2xx; its body is ignored. Errors as
 * `requestJson`.
 */
export async function putBytes(auth: ServerAuth, path: string, body: Uint8Array): Promise<void> {
  const response = await send(auth, 'PUT', path, {
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  await response.body?.cancel();
}

/** Sends one request; a network error or an error status becomes a `ServerError`. */
async function send(
  auth: ServerAuth,
  method: string,
  path: string,
  init: { headers: Record<string, string>; body?: string | Uint8Array },
): Promise<Response> {
  const url = new URL(path, auth.server);
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${auth.token}`, ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
    });
  } catch (cause) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, DNS…) is on its cause.
    const reason =
      cause instanceof Error && cause.cause instanceof Error ? cause.cause.message : String(cause);
    throw new ServerError(`cannot reach ${auth.server}: ${reason}`, 0, undefined, { cause });
  }
  if (response.ok) return response;
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined; // not the error body: the status text is reported instead
  }
  const parsed = apiError.safeParse(json);
  const message = parsed.success
    ? parsed.data.error.message
    : response.statusText || text.slice(0, 200);
  throw new ServerError(
    `${method} ${url.pathname}: ${describeStatus(response.status, message)}`,
    response.status,
    parsed.success ? parsed.data.error.code : undefined,
  );
}

/** The ws(s) URL of a server path (`http` → `ws`, `https` → `wss`). */
export function socketUrl(server: string, path: string): string {
  const url = new URL(path, server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
