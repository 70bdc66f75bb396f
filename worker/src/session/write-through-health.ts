import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';

/** One session whose D1 projections are behind its log because D1 writes failed. */
export interface LaggingSession {
  sessionId: string;
  /** Events committed in the session's log and not yet in D1. */
  lagEvents: number;
  lastError: string;
  /** ms epoch of the first failure of this stretch. */
  since: number;
}

/**
 * The platform-wide view of D1 write-through lag (`GET /api/health`): SessionDOs report here when
 * a write-through fails and again when they catch up, so a healthy system costs nothing and an
 * outage shows how many sessions are behind and by how much. One instance, named `global`.
 */
export class WriteThroughHealth extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS lagging (
      session_id TEXT PRIMARY KEY, lag_events INTEGER NOT NULL, last_error TEXT NOT NULL, since INTEGER NOT NULL
    )`);
  }

  /** A session is `lagEvents` behind after a failed write (or caught up, with 0). */
  async report(sessionId: string, lagEvents: number, lastError: string | null): Promise<void> {
    if (lagEvents === 0 || lastError === null) {
      this.ctx.storage.sql.exec('DELETE FROM lagging WHERE session_id = ?', sessionId);
      return;
    }
    this.ctx.storage.sql.exec(
      `INSERT INTO lagging (session_id, lag_events, last_error, since) VALUES (?, ?, ?, ?)
       ON CONFLICT (session_id) DO UPDATE SET lag_events = excluded.lag_events, last_error = excluded.last_error`,
      sessionId,
      lagEvents,
      lastError,
      Date.now(),
    );
  }

  /** How many sessions lag, the largest lag, and the ten worst. */
  async summary(): Promise<{
    laggingSessions: number;
    maxLagEvents: number;
    worst: LaggingSession[];
  }> {
    const worst = this.ctx.storage.sql
      .exec<{ session_id: string; lag_events: number; last_error: string; since: number }>(
        'SELECT * FROM lagging ORDER BY lag_events DESC LIMIT 10',
      )
      .toArray()
      .map((r) => ({
        sessionId: r.session_id,
        lagEvents: r.lag_events,
        lastError: r.last_error,
        since: r.since,
      }));
    const { n } = this.ctx.storage.sql
      .exec<{ n: number }>('SELECT COUNT(*) AS n FROM lagging')
      .one();
    return { laggingSessions: n, maxLagEvents: worst[0]?.lagEvents ?? 0, worst };
  }
}
