import { Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { principalForToken, requirePrincipal, TOKEN_COOKIE } from '../auth/principal';
import { type AppEnv, fail, validate } from '../http';

/**
 * `/api/auth/*` and `/api/me`: a browser signs in with a personal access token, which is kept in
 * an httpOnly, SameSite=Lax cookie (accounts with passwords arrive with the control plane).
 */
export const auth = new Hono<AppEnv>()
  .post(
    '/auth/token',
    validate('json', z.object({ token: z.string().min(1).max(200) })),
    async (c) => {
      const { token } = c.req.valid('json');
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
  .post('/auth/sign-out', (c) => {
    deleteCookie(c, TOKEN_COOKIE, { path: '/' });
    return c.body(null, 204);
  })
  .get('/me', requirePrincipal, (c) => {
    const { userId, email, name } = c.var.principal;
    return c.json({ user: { id: userId, email, name } });
  });
