import type { SessionStore } from '@kiln/channel';
import type { SessionState } from '@kiln/protocol';
import { drizzle } from 'drizzle-orm/d1';
import type { Env } from '../env';
import { collectTouched, projectionStatements } from './projection';

/** Events projected into D1 per `batch()`. */
const CHUNK_EVENTS = 1000;

/** How far a session's D1 projections trail its log (`GET /api/sessions/:id/health`). */
export interface SessionHealth {
  headSeq: number;
  /** Highest seq whose projections are committed in D1. */
  d1Seq: number;
  d1LagEvents: number;
  d1LastError: string | null;
}

/**
 * The SessionDO's write-through to D1 (DESIGN §4): the current state of every row touched by the
 * events after the D1 cursor, one `batch()` (one transaction) per chunk; the cursor (`d1Seq` in
 * the store's meta) moves only after D1 commits. Failures are counted and reported to the
 * platform-wide health object; the caller retries after `run` says when.
 */
export class WriteThrough {
  constructor(
    private readonly store: SessionStore,
    private readonly env: Env,
    /** The D1 binding to write to (a getter: tests swap in a failing one). */
    private readonly d1: () => D1Database,
  ) {}

  /**
   * Projects everything up to `state.headSeq`. Returns undefined when D1 has caught up, or the
   * delay in ms before the next attempt (0.5 s doubling to 60 s, jittered) when a batch failed.
   */
  async run(state: SessionState): Promise<number | undefined> {
    const db = drizzle(this.d1());
    let d1Seq = this.cursor();
    try {
      while (d1Seq < state.headSeq) {
        const events = this.store.log.read(d1Seq, CHUNK_EVENTS);
        if (events.length === 0) break;
        const last = events[events.length - 1]!.seq;
        const statements = projectionStatements(
          db,
          state,
          collectTouched(events),
          last,
          Date.now(),
        );
        await db.batch(statements as [(typeof statements)[number], ...typeof statements]);
        d1Seq = last;
        this.store.setMeta('d1Seq', String(d1Seq));
      }
      this.store.setMeta('d1Attempts', '0');
      if (this.store.getMeta('d1LastError') !== undefined) {
        this.store.deleteMeta('d1LastError');
        await this.report(state.sessionId, 0, null);
      }
      return undefined;
    } catch (error) {
      const attempts = Number(this.store.getMeta('d1Attempts') ?? 0) + 1;
      const message = error instanceof Error ? error.message : String(error);
      this.store.setMeta('d1Attempts', String(attempts));
      this.store.setMeta('d1LastError', message);
      await this.report(state.sessionId, state.headSeq - d1Seq, message);
      console.warn(
        `session ${state.sessionId}: D1 write-through failed (attempt ${attempts})`,
        error,
      );
      return Math.min(60_000, 500 * 2 ** Math.min(attempts, 7)) * (0.5 + Math.random() / 2);
    }
  }

  /** Whether events past the D1 cursor wait to be projected. */
  behind(headSeq: number): boolean {
    return headSeq > this.cursor();
  }

  health(headSeq: number): SessionHealth {
    const d1Seq = this.cursor();
    return {
      headSeq,
      d1Seq,
      d1LagEvents: headSeq - d1Seq,
      d1LastError: this.store.getMeta('d1LastError') ?? null,
    };
  }

  private cursor(): number {
    return Number(this.store.getMeta('d1Seq') ?? 0);
  }

  /** Tells the platform-wide health view (`GET /api/health`) how far behind D1 this session is. */
  private async report(sessionId: string, lagEvents: number, error: string | null): Promise<void> {
    try {
      await this.env.WRITE_THROUGH_HEALTH.getByName('global').report(sessionId, lagEvents, error);
    } catch (reportError) {
      // Health reporting must never stop the write-through; the session's own health has it.
      console.warn(`session ${sessionId}: could not report D1 lag`, reportError);
    }
  }
}
