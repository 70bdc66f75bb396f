import { STUCK_SESSION_MS } from '@kiln/protocol';
import type { Env } from '../env';

/**
 * The cron sweep (DESIGN §4): asks every session that D1 shows `active` with no write for
 * `STUCK_SESSION_MS` (5 minutes) to finish its stuck turn. The SessionDO decides from its own log,
 * so a session D1 has not caught up with is left alone. Returns how many sessions were finished.
 */
export async function sweepStuckSessions(env: Env, now = Date.now()): Promise<number> {
  const stuckMs = env.STUCK_SESSION_MS ? Number(env.STUCK_SESSION_MS) : STUCK_SESSION_MS;
  const { results } = await env.DB.prepare(
    "SELECT id FROM generation_sessions WHERE status = 'active' AND updated_at < ? LIMIT 500",
  )
    .bind(now - stuckMs)
    .all<{ id: string }>();
  let finished = 0;
  for (const { id } of results) {
    if (await env.SESSIONS.getByName(id).sweepIfStuck(now)) finished++;
  }
  return finished;
}
