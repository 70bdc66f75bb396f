import { Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { authMethods, createAuth } from '../auth/better-auth';
import {
  findPrincipal,
  principalForToken,
  requireOwnOrigin,
  requirePrincipal,
  TOKEN_COOKIE,
} from '../auth/principal';
import { requireTokenQuota } from '../auth/rate-limits';
import { revokeSockets } from '../auth/revoke';
import { type AppEnv, fail, failRateLimited, validate } from '../http';

/**
 * `/api/auth/*` and `/api/me`. Accounts are Better Auth's (`/api/auth/sign-up/email`,
 * `/api/auth/sign-in/email`, `/api/auth/sign-in/social`, …); Kiln adds sign-in with a personal
 * access token (the `#token=` link `pnpm dev` prints), a sign-out that ends both kinds, and
 * `/api/auth/methods` for the sign-in page. Sign-in and sign-up are throttled per client IP by
 * Better Auth's rate limiter, token sign-in by `TOKEN_LIMITER`; both answer 429 with `Retry-After`.
 */
export const auth = new Hono<AppEnv>()
  .use('/auth/*', requireOwnOrigin)
  .post(
    '/auth/token',
    validate('json', z.object({ token: z.string().min(1).max(200) })),
    async (c) => {
      const { token } = c.req.valid('json');
      const ip = c.req.header('CF-Connecting-IP');
      if (ip) await requireTokenQuota(c.env, `sign-in:${ip}`);
      const principal = await principalForToken(c.env.DB, token, 'cookie');
      if (!principal) fail(401, 'unauthorized', 'unknown or revoked token');
      setCookie(c, TOKEN_COOKIE, token, {
        httpOnly: true,
        sameSite: 'Lax',
        secure: new URL(c.req.url).protocol === 'https:',
        path: '/',
        maxAge: 60 * 60 * 24 * 30,
      });
      return c.body(null, 204);
    },
  )
  .post('/auth/sign-out', async (c) => {
    // Who is signing out, before the credential ends: their sockets opened with it close.
    const principal = await findPrincipal(c);
    const response = await createAuth(c.env, c.req.url).api.signOut({
      headers: c.req.raw.headers,
      asResponse: true,
    });
    // Better Auth's answer clears its cookie (and deletes the session row) when there was one.
    for (const cookie of response.headers.getSetCookie())
      c.header('Set-Cookie', cookie, { append: true });
    deleteCookie(c, TOKEN_COOKIE, { path: '/' });
    if (principal?.via === 'cookie') {
      await revokeSockets(c.env, {
        kind: 'signed-out',
        userId: principal.userId,
        authSessionId: principal.authSessionId,
        tokenId: principal.tokenId,
      });
    }
    return c.body(null, 204);
  })
  .get('/auth/methods', (c) => c.json(authMethods(c.env)))
  .on(['GET', 'POST'], '/auth/*', async (c) => {
    const response = await createAuth(c.env, c.req.url).handler(c.req.raw);
    if (response.status !== 429) return response;
    // Better Auth's rate limiter (AUTH_RATE_LIMIT) answers `{message}` and `X-Retry-After`:
    // render it as every other 429 of the API.
    failRateLimited(
      'too many sign-in attempts; try again later',
      Number(response.headers.get('X-Retry-After')) || 60,
    );
  })
  .get('/me', requirePrincipal, (c) => {
    const { userId, email, name } = c.var.principal;
    return c.json({ user: { id: userId, email, name } });
  });
