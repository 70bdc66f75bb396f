import { and, eq, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { apiTokens, runnerTokens, users } from '../db/schema';
import { type AppEnv, fail } from '../http';
import { createAuth } from './better-auth';

/** The authenticated caller of a request. */
export interface Principal {
  userId: string;
  email: string;
  name: string;
  /** How the caller proved who it is; cookie-authenticated requests also need a same-origin Origin. */
  via: 'bearer' | 'cookie';
  /** The personal access token used (bearer or token cookie), if one was. */
  tokenId: string | null;
  /** The Better Auth session used (cookie sign-in), if one was. */
  authSessionId: string | null;
}

/** How often a token's `lastUsedAt` is written at most (one D1 write per token per minute). */
const LAST_USED_EVERY_MS = 60_000;

/** A runner authenticated by its runner token: it may connect to its hub and ingest leased builds. */
export interface RunnerPrincipal {
  runnerId: string;
  /** The account that owns the runner (whose hub it joins, unless shared). */
  userId: string;
  name: string;
  /** Serves every account without runners of its own (joins the shared hub). */
  shared: boolean;
}

/** Prefix of runner tokens; personal access tokens start with `kiln_pat_`. */
export const RUNNER_TOKEN_PREFIX = 'kiln_rt_';

/** Name of the httpOnly cookie that carries a browser's access token. */
export const TOKEN_COOKIE = 'kiln_token';

/** Hex SHA-256 of a token: the only form in which tokens are stored. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A new token: `prefix` and 32 random bytes, base64url (`kiln_pat_` personal, `kiln_rt_` runner). */
export function generateToken(prefix = 'kiln_pat_'): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  return `${prefix}${b64}`;
}

/** Looks a runner token up; undefined when unknown or revoked. */
async function runnerForToken(db: D1Database, token: string): Promise<RunnerPrincipal | undefined> {
  const rows = await drizzle(db)
    .select({
      runnerId: runnerTokens.id,
      userId: runnerTokens.userId,
      name: runnerTokens.name,
      shared: runnerTokens.shared,
    })
    .from(runnerTokens)
    .where(and(eq(runnerTokens.tokenHash, await hashToken(token)), isNull(runnerTokens.revokedAt)))
    .limit(1);
  return rows[0];
}

/** Looks a token up; undefined when unknown or revoked. */
export async function principalForToken(
  db: D1Database,
  token: string,
  via: Principal['via'],
): Promise<Principal | undefined> {
  const rows = await drizzle(db)
    .select({
      userId: users.id,
      email: users.email,
      name: users.name,
      tokenId: apiTokens.id,
      lastUsedAt: apiTokens.lastUsedAt,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.tokenHash, await hashToken(token)), isNull(apiTokens.revokedAt)))
    .limit(1);
  const row = rows[0];
  if (!row) return undefined;
  const now = Date.now();
  if (row.lastUsedAt === null || now - row.lastUsedAt >= LAST_USED_EVERY_MS) {
    await drizzle(db)
      .update(apiTokens)
      .set({ lastUsedAt: now })
      .where(eq(apiTokens.id, row.tokenId));
  }
  const { lastUsedAt: _, ...principal } = row;
  return { ...principal, via, authSessionId: null };
}

/** The person signed in by a Better Auth session cookie, if any. */
async function principalForSessionCookie(c: Context<AppEnv>): Promise<Principal | undefined> {
  const cookies = c.req.header('Cookie') ?? '';
  // Only build Better Auth when its cookie is there: most API calls carry a bearer token.
  if (!cookies.includes('better-auth.session_token')) return undefined;
  const session = await createAuth(c.env, c.req.url).api.getSession({ headers: c.req.raw.headers });
  if (!session) return undefined;
  const { id, email, name } = session.user;
  return {
    userId: id,
    email,
    name,
    via: 'cookie',
    tokenId: null,
    authSessionId: session.session.id,
  };
}

/** The person a request comes from, or undefined; 403 for a cookie sent from a foreign origin. */
export async function findPrincipal(c: Context<AppEnv>): Promise<Principal | undefined> {
  const header = c.req.header('Authorization');
  if (header?.startsWith('Bearer ')) {
    return principalForToken(c.env.DB, header.slice(7).trim(), 'bearer');
  }
  const cookie = getCookie(c, TOKEN_COOKIE);
  const principal =
    (cookie ? await principalForToken(c.env.DB, cookie, 'cookie') : undefined) ??
    (await principalForSessionCookie(c));
  if (principal) {
    const needsOrigin = c.req.method !== 'GET' || c.req.header('Upgrade') !== undefined;
    if (needsOrigin && c.req.header('Origin') !== ownOrigin(c)) {
      fail(403, 'forbidden', 'request from a foreign origin');
    }
  }
  return principal;
}

/** The origin the web app is served from: PUBLIC_URL's, or the request's own. */
function ownOrigin(c: Context<AppEnv>): string {
  return c.env.PUBLIC_URL ? new URL(c.env.PUBLIC_URL).origin : new URL(c.req.url).origin;
}

/**
 * Refuses (403) a state-changing auth request (sign-in, sign-up, sign-out, token sign-in) whose
 * `Origin` is another site's: login CSRF and cross-site sign-out. A request without `Origin`
 * (curl, the CLI) carries no cookies a foreign site could ride on and passes.
 */
export const requireOwnOrigin = createMiddleware<AppEnv>(async (c, next) => {
  const origin = c.req.header('Origin');
  if (c.req.method !== 'GET' && origin !== undefined && origin !== ownOrigin(c)) {
    fail(403, 'forbidden', 'request from a foreign origin');
  }
  await next();
});

/**
 * Requires a person: `Authorization: Bearer <personal access token>`, the Better Auth session
 * cookie, or the token cookie (`#token=` sign-in). A cookie-authenticated request must come from
 * our own origin (Origin header), which also guards socket upgrades against cross-site WebSocket
 * hijacking. 401 when no valid credential is present (a runner token is not one), 403 on a
 * foreign Origin.
 */
export const requirePrincipal = createMiddleware<AppEnv>(async (c, next) => {
  const principal = await findPrincipal(c);
  if (!principal) fail(401, 'unauthorized', 'sign in or pass Authorization: Bearer <token>');
  c.set('principal', principal);
  await next();
});

/** Requires a runner token (`Authorization: Bearer kiln_rt_…`); 401 otherwise. */
export const requireRunner = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('Authorization');
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
  const runner = token.startsWith(RUNNER_TOKEN_PREFIX)
    ? await runnerForToken(c.env.DB, token)
    : undefined;
  if (!runner) fail(401, 'unauthorized', 'pass Authorization: Bearer <runner token>');
  c.set('runner', runner);
  await next();
});

/** A person or, with a `kiln_rt_` bearer token, a runner (for the ingest socket). */
export const requirePersonOrRunner = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('Authorization');
  if (header?.startsWith(`Bearer ${RUNNER_TOKEN_PREFIX}`)) {
    return requireRunner(c, next);
  }
  return requirePrincipal(c, next);
});
