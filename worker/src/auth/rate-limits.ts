import { MAX_SESSIONS_PER_MINUTE, MAX_TOKEN_REQUESTS_PER_MINUTE } from '@kiln/protocol';
import type { Env } from '../env';
import { failRateLimited } from '../http';

/** The rolling window of `MAX_SESSIONS_PER_MINUTE`, ms. */
const SESSION_WINDOW_MS = 60_000;

/**
 * 429 `rate-limited` (`Retry-After: 60`) when `key` is past `MAX_TOKEN_REQUESTS_PER_MINUTE` on the
 * Workers Rate Limiting binding `TOKEN_LIMITER` (wrangler.toml; counted by Cloudflare across
 * isolates). Keys: `create:<userId>` for `POST /api/tokens`, `sign-in:<ip>` for token sign-in.
 * The binding says only yes or no, so `Retry-After` is its whole period.
 */
export async function requireTokenQuota(env: Env, key: string): Promise<void> {
  const { success } = await env.TOKEN_LIMITER.limit({ key });
  if (!success) {
    failRateLimited(`at most ${MAX_TOKEN_REQUESTS_PER_MINUTE} a minute; try again later`, 60);
  }
}

/**
 * 429 `rate-limited` when `userId` has created `MAX_SESSIONS_PER_MINUTE` sessions in the last
 * minute and `sessionId` would be a new one (a message to an existing session always passes).
 * `Retry-After` is the seconds until the oldest of those sessions leaves the minute. Reads
 * D1's `sessions_created_by` index; two creations racing may both pass (bounded by concurrency).
 */
export async function requireSessionQuota(
  db: D1Database,
  userId: string,
  sessionId: string,
): Promise<void> {
  const exists = await db
    .prepare('SELECT 1 AS one FROM generation_sessions WHERE id = ?')
    .bind(sessionId)
    .first();
  if (exists) return;
  const now = Date.now();
  const { results } = await db
    .prepare(
      'SELECT created_at FROM generation_sessions WHERE created_by = ? AND created_at > ? ORDER BY created_at ASC LIMIT ?',
    )
    .bind(userId, now - SESSION_WINDOW_MS, MAX_SESSIONS_PER_MINUTE)
    .all<{ created_at: number }>();
  const oldest = results[0];
  if (results.length >= MAX_SESSIONS_PER_MINUTE && oldest) {
    failRateLimited(
      `at most ${MAX_SESSIONS_PER_MINUTE} new sessions a minute`,
      (oldest.created_at + SESSION_WINDOW_MS - now) / 1000,
    );
  }
}
