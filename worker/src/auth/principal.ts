import { and, eq, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { apiTokens, users } from '../db/schema';
import { type AppEnv, fail } from '../http';

/** The authenticated caller of a request. */
export interface Principal {
  userId: string;
  email: string;
  name: string;
  /** How the caller proved who it is; cookie-authenticated requests also need a same-origin Origin. */
  via: 'bearer' | 'cookie';
}

/** Name of the httpOnly cookie that carries a browser's access token. */
export const TOKEN_COOKIE = 'kiln_token';

/** Hex SHA-256 of a token: the only form in which tokens are stored. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** A new personal access token: `kiln_pat_` and 32 random bytes, base64url. */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  return `kiln_pat_${b64}`;
}

/** Looks a token up; undefined when unknown or revoked. */
export async function principalForToken(
  db: D1Database,
  token: string,
  via: Principal['via'],
): Promise<Principal | undefined> {
  const rows = await drizzle(db)
    .select({ userId: users.id, email: users.email, name: users.name })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.tokenHash, await hashToken(token)), isNull(apiTokens.revokedAt)))
    .limit(1);
  const row = rows[0];
  return row ? { ...row, via } : undefined;
}

/**
 * Requires a caller: `Authorization: Bearer <token>` or the token cookie. A cookie-authenticated
 * request must come from our own origin (Origin header), which also guards socket upgrades
 * against cross-site WebSocket hijacking. 401 when no valid credential is present, 403 on a
 * foreign Origin.
 */
export const requirePrincipal = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header('Authorization');
  let principal: Principal | undefined;
  if (header?.startsWith('Bearer ')) {
    principal = await principalForToken(c.env.DB, header.slice(7).trim(), 'bearer');
  } else {
    const cookie = getCookie(c, TOKEN_COOKIE);
    if (cookie) principal = await principalForToken(c.env.DB, cookie, 'cookie');
    if (principal) {
      const origin = c.req.header('Origin');
      const allowed = c.env.PUBLIC_URL || new URL(c.req.url).origin;
      const needsOrigin = c.req.method !== 'GET' || c.req.header('Upgrade') !== undefined;
      if (needsOrigin && origin !== allowed)
        fail(403, 'forbidden', 'request from a foreign origin');
    }
  }
  if (!principal) fail(401, 'unauthorized', 'sign in or pass Authorization: Bearer <token>');
  c.set('principal', principal);
  await next();
});
