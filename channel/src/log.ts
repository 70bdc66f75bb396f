/**
 * The ordered log under a channel (a session's events): append in a transaction, read a seq
 * range, the snapshot at a seq, the head. Two backends: `SqliteLog` on a Durable Object's SQLite
 * (sqlite-log.ts) and `MemoryLog` for plain-Node tests and the runner's fake server. Seqs are
 * 1, 2, 3 … with no gaps; the caller numbers each append from its head.
 */

/** One event to append: its body and envelope time, and for runner events where it came from. */
export interface LogEntry<B> {
  body: B;
  /** ms epoch, when the object committed it. */
  at: number;
  buildId?: string;
  producerSeq?: number;
}

/**
 * A log of bodies `B` read back as events `E` (`{...body, seq, at}`), with snapshots of a state
 * `S`. Every method is synchronous: a Durable Object's SQLite is, and so the object's input gate
 * holds while it runs.
 */
export interface ChannelLog<B extends { type: string }, E extends { seq: number }, S> {
  /** Appends `entries` with seqs `firstSeq, firstSeq + 1, …`; call inside `transaction`. */
  append(entries: readonly LogEntry<B>[], firstSeq: number): E[];
  /** Events with `seq > after`, in order, at most `limit`. */
  read(after: number, limit: number): E[];
  /** The highest seq stored (0 for an empty log). */
  head(): number;
  /** The newest event whose body has `type`, if any. */
  lastOfType(type: B['type']): E | undefined;
  /** The newest snapshot and the seq it is the state at, if any. */
  snapshot(): { seq: number; state: S } | undefined;
  /** The seq of the newest snapshot (0: none), without reading the state. */
  snapshotSeq(): number;
  /** Stores the state at `seq`, keeping only the two newest snapshots. */
  putSnapshot(seq: number, state: S): void;
  /** Runs `fn` atomically: everything it wrote is stored, or (it threw) nothing. */
  transaction<T>(fn: () => T): T;
}

/** Validates a stored event (`{...body, seq, at}`) on its way out; throws on a corrupted one. */
export type ParseEvent<E> = (json: unknown) => E;

/**
 * The log in memory. A transaction that throws rolls back the events and snapshots it wrote, as
 * SQLite would; values are copied in and out (as JSON) so callers cannot change what is stored.
 */
export class MemoryLog<B extends { type: string }, E extends { seq: number }, S>
  implements ChannelLog<B, E, S>
{
  private readonly events: { type: string; json: string }[] = [];
  private snapshots: { seq: number; state: string }[] = [];

  constructor(
    private readonly parse: ParseEvent<E>,
    private readonly parseState: (json: unknown) => S,
  ) {}

  append(entries: readonly LogEntry<B>[], firstSeq: number): E[] {
    if (firstSeq !== this.events.length + 1) {
      throw new Error(`append at seq ${firstSeq} to a log whose head is ${this.events.length}`);
    }
    return entries.map((entry, i) => {
      const event = { ...entry.body, seq: firstSeq + i, at: entry.at };
      this.events.push({ type: entry.body.type, json: JSON.stringify(event) });
      return this.parse(event);
    });
  }

  read(after: number, limit: number): E[] {
    return this.events
      .slice(Math.max(0, after), Math.max(0, after) + limit)
      .map((row) => this.parse(JSON.parse(row.json)));
  }

  head(): number {
    return this.events.length;
  }

  lastOfType(type: B['type']): E | undefined {
    const row = this.events.findLast((e) => e.type === type);
    return row && this.parse(JSON.parse(row.json));
  }

  snapshot(): { seq: number; state: S } | undefined {
    const newest = this.snapshots.at(-1);
    return newest && { seq: newest.seq, state: this.parseState(JSON.parse(newest.state)) };
  }

  snapshotSeq(): number {
    return this.snapshots.at(-1)?.seq ?? 0;
  }

  putSnapshot(seq: number, state: S): void {
    this.snapshots = [
      ...this.snapshots.filter((s) => s.seq !== seq),
      { seq, state: JSON.stringify(state) },
    ]
      .sort((a, b) => a.seq - b.seq)
      .slice(-2);
  }

  transaction<T>(fn: () => T): T {
    const events = this.events.length;
    const snapshots = this.snapshots;
    try {
      return fn();
    } catch (error) {
      this.events.length = events;
      this.snapshots = snapshots;
      throw error;
    }
  }
}
