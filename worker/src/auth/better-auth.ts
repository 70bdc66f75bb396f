import { MAX_SIGN_INS_PER_MINUTE, MAX_SIGN_UPS_PER_MINUTE } from '@kiln/protocol';
import { type BetterAuthOptions, betterAuth } from 'better-auth';
import { drizzleAdapter } from 'better-auth/adapters/drizzle';
import { drizzle } from 'drizzle-orm/d1';
import { authAccounts, authRateLimits, authSessions, authVerifications, users } from '../db/schema';
import type { Env } from '../env';
import { fail } from '../http';
import { hashPassword, verifyPassword } from './password';

/** Used only when BETTER_AUTH_SECRET is unset and the server is on a local host (dev, tests). */
const LOCAL_DEV_SECRET = 'kiln-local-development-secret-not-for-deployment';

/**
 * Better Auth's rate limiter on its own routes, counted per client IP (`CF-Connecting-IP`) and
 * path in D1 (`auth_rate_limits`: every isolate sees the same counts; in-memory storage would be
 * per isolate). Every attempt counts, failed or not: `MAX_SIGN_INS_PER_MINUTE` email sign-ins and
 * `MAX_SIGN_UPS_PER_MINUTE` sign-ups per minute per IP, 100 requests per minute on any other auth path. Past it Better Auth answers 429, which
 * `routes/auth.ts` renders as `rate-limited` with `Retry-After`. Requests without the header
 * (only possible off Cloudflare) are not counted.
 */
const AUTH_RATE_LIMIT: BetterAuthOptions['rateLimit'] = {
  enabled: true,
  storage: 'database',
  modelName: 'rateLimit',
  window: 60,
  max: 100,
  customRules: {
    '/sign-in/email': { window: 60, max: MAX_SIGN_INS_PER_MINUTE },
    '/sign-up/email': { window: 60, max: MAX_SIGN_UPS_PER_MINUTE },
  },
};

/**
 * Better Auth on D1 (DESIGN §8): email + password, an httpOnly session cookie, GitHub OAuth when
 * GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are set. Its `user` model is Kiln's `users` table, so
 * personal access tokens, projects and members keep pointing at the same ids. Built per request:
 * the base URL depends on the request when PUBLIC_URL is empty.
 */
export function createAuth(env: Env, requestUrl: string) {
  const origin = env.PUBLIC_URL || new URL(requestUrl).origin;
  const local = /^https?:\/\/(localhost|127\.0\.0\.1|kiln\.test)(:\d+)?$/.test(origin);
  const secret = env.BETTER_AUTH_SECRET || (local ? LOCAL_DEV_SECRET : undefined);
  if (!secret) fail(500, 'internal', 'BETTER_AUTH_SECRET is not configured');
  const github =
    env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET
      ? { github: { clientId: env.GITHUB_CLIENT_ID, clientSecret: env.GITHUB_CLIENT_SECRET } }
      : {};
  return betterAuth({
    appName: 'Kiln',
    baseURL: origin,
    basePath: '/api/auth',
    secret,
    trustedOrigins: [origin],
    database: drizzleAdapter(drizzle(env.DB), {
      provider: 'sqlite',
      schema: {
        user: users,
        session: authSessions,
        account: authAccounts,
        verification: authVerifications,
        rateLimit: authRateLimits,
      },
    }),
    rateLimit: AUTH_RATE_LIMIT,
    emailAndPassword: {
      enabled: true,
      minPasswordLength: 8,
      password: { hash: hashPassword, verify: verifyPassword },
    },
    socialProviders: github,
    advanced: {
      useSecureCookies: origin.startsWith('https:'),
      // Cloudflare sets the client's address here and overwrites whatever the client sent.
      ipAddress: { ipAddressHeaders: ['cf-connecting-ip'] },
    },
    telemetry: { enabled: false },
  });
}

/** Which sign-in methods the server offers (`GET /api/auth/methods`, for the sign-in page). */
export function authMethods(env: Env): { password: true; github: boolean } {
  return { password: true, github: Boolean(env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET) };
}
