import { REPLAY_LIMIT, REPLAY_ROUND_EVENTS } from '@kiln/protocol';
import { eventFrames } from './fanout';

/**
 * How to bring a subscriber that has `lastSeq` up to `headSeq` (DESIGN §3):
 * - `ahead`: it claims events the log does not have (the log was reset, or a bug): tell it, then
 *   send a snapshot;
 * - `none`: it is up to date;
 * - `events`: send `lastSeq+1 … headSeq` in bounded rounds;
 * - `snapshot`: more than `replayLimit` events are missing: send the state at head instead.
 */
export type CatchUp =
  | { kind: 'ahead' }
  | { kind: 'none' }
  | { kind: 'events'; after: number }
  | { kind: 'snapshot' };

export function planCatchUp(lastSeq: number, headSeq: number, replayLimit: number): CatchUp {
  if (lastSeq > headSeq) return { kind: 'ahead' };
  if (lastSeq === headSeq) return { kind: 'none' };
  if (headSeq - lastSeq > replayLimit) return { kind: 'snapshot' };
  return { kind: 'events', after: lastSeq };
}

/** Where a catch-up reads from: the object's own log, or (a viewer shard) its session by RPC. */
export interface CatchUpSource<E extends { seq: number }, S> {
  /** The seq the subscriber is caught up to once this catch-up is done. */
  head(): number | Promise<number>;
  /** Events with `seq > after`, in order, at most `limit` (viewer-safe: redacted). */
  read(after: number, limit: number): readonly E[] | Promise<readonly E[]>;
  /** The state at head, for a `snapshot` frame. */
  snapshot(): { seq: number; state: S } | Promise<{ seq: number; state: S }>;
}

/**
 * Sends a subscriber at `lastSeq` what it lacks (PROTOCOL.md §2), through `send`: nothing, the
 * events in rounds of at most `REPLAY_ROUND_EVENTS` (each round split under `MAX_FRAME_BYTES`
 * by `eventFrames`), or a snapshot past `REPLAY_LIMIT` — after an `ahead-of-head` error when it
 * claims more than the log holds. Returns the seq it is caught up to.
 *
 * Ordering: with a synchronous source (DO SQLite) every `await` resolves in the same task, so no
 * socket event or timer of the object runs in between and no live batch interleaves. An
 * asynchronous source (a shard reading by RPC) must queue its live batches behind the catch-up.
 */
export async function catchUp<E extends { seq: number }, S>(
  lastSeq: number,
  source: CatchUpSource<E, S>,
  send: {
    frame(text: string): void;
    snapshot(seq: number, state: S): string;
    aheadOfHead(lastSeq: number, headSeq: number): string;
  },
): Promise<number> {
  const headSeq = await source.head();
  const plan = planCatchUp(lastSeq, headSeq, REPLAY_LIMIT);
  switch (plan.kind) {
    case 'none':
      return headSeq;
    case 'ahead':
    case 'snapshot': {
      const { seq, state } = await source.snapshot();
      if (plan.kind === 'ahead') send.frame(send.aheadOfHead(lastSeq, seq));
      send.frame(send.snapshot(seq, state));
      return seq;
    }
    case 'events': {
      let after = plan.after;
      while (after < headSeq) {
        const events = await source.read(after, Math.min(REPLAY_ROUND_EVENTS, headSeq - after));
        const last = events[events.length - 1];
        if (!last) break;
        for (const frame of eventFrames(events)) send.frame(frame);
        after = last.seq;
      }
      return headSeq;
    }
    default: {
      const unknown: never = plan;
      throw new Error(`unhandled catch-up ${JSON.stringify(unknown)}`);
    }
  }
}
