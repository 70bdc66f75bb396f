import { betterAuth } from 'better-auth';
import { drizzleAdapter } from 'better-auth/adapters/drizzle';
import { drizzle } from 'drizzle-orm/d1';
import { authAccounts, authSessions, authVerifications, users } from '../db/schema';
import type { Env } from '../env';
import { fail } from '../http';
import { hashPassword, verifyPassword } from './password';

/** Used only when BETTER_AUTH_SECRET is unset and the server is on a local host (dev, tests). */
const LOCAL_DEV_SECRET = 'kiln-local-development-secret-not-for-deployment';

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
      },
    }),
    emailAndPassword: {
      enabled: true,
      minPasswordLength: 8,
      password: { hash: hashPassword, verify: verifyPassword },
    },
    socialProviders: github,
    advanced: { useSecureCookies: origin.startsWith('https:') },
    telemetry: { enabled: false },
  });
}

/** Which sign-in methods the server offers (`GET /api/auth/methods`, for the sign-in page). */
export function authMethods(env: Env): { password: true; github: boolean } {
  return { password: true, github: Boolean(env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET) };
}
