import { zValidator } from '@hono/zod-validator';
import type { ErrorCode } from '@kiln/protocol';
import type { Context, ValidationTargets } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import type { Principal, RunnerPrincipal } from './auth/principal';
import type { Env } from './env';

/** Hono context of every route: the bindings and the authenticated caller. */
export interface AppEnv {
  Bindings: Env;
  Variables: { principal: Principal; runner: RunnerPrincipal };
}

/** An HTTP error with one of the protocol's error codes; `app.onError` renders it. */
class ApiError extends HTTPException {
  override name = 'ApiError';
  constructor(
    status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers (e.g. `Retry-After` on a 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(status, { message });
  }
}

/** Throws an `ApiError`; use in handlers as `throw`-expression. */
export function fail(status: ContentfulStatusCode, code: ErrorCode, message: string): never {
  throw new ApiError(status, code, message);
}

/** Throws `429 rate-limited` with `Retry-After: <seconds>` (at least 1). */
export function failRateLimited(message: string, retryAfterSeconds: number): never {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  throw new ApiError(429, 'rate-limited', message, { 'Retry-After': String(seconds) });
}

/** Renders every error as `{ error: { code, message } }`. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json({ error: { code: err.code, message: err.message } }, err.status, err.headers);
  }
  if (err instanceof HTTPException) {
    const code: ErrorCode =
      err.status === 401 ? 'unauthorized' : err.status === 403 ? 'forbidden' : 'bad-request';
    return c.json({ error: { code, message: err.message } }, err.status);
  }
  console.error('unhandled error', err);
  return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
}

/** zod validation of a request part; failures become `400 bad-request` with zod's message. */
export function validate<T extends z.ZodType, Target extends keyof ValidationTargets>(
  target: Target,
  schema: T,
) {
  return zValidator(target, schema, (result) => {
    if (!result.success) {
      fail(
        400,
        'bad-request',
        `invalid ${target}: ${result.error.issues.map((i) => `${i.path.join('.') || target}: ${i.message}`).join('; ')}`,
      );
    }
  });
}
