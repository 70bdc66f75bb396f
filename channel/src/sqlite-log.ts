import type { ChannelLog, LogEntry, ParseEvent } from './log';

/** A value SQLite binds or returns (workerd's `SqlStorageValue`). */
export type SqlValue = string | number | null | ArrayBuffer;

/**
 * The part of a Durable Object's `ctx.storage.sql` (workerd's `SqlStorage`) the stores use, so
 * this package needs no workerd types; `SqlStorage` satisfies it as it is. Every statement binds
 * its values.
 */
export interface SqlLike {
  exec<T extends Record<string, SqlValue>>(
    query: string,
    ...bindings: SqlValue[]
  ): { toArray(): T[]; one(): T } & Iterable<T>;
}

/** Runs `fn` in one SQLite transaction (workerd: `ctx.storage.transactionSync`). */
export type TransactionSync = <T>(fn: () => T) => T;

/**
 * The log in DO SQLite, in the tables the SessionDO has always used:
 * - `events(seq PK, type, at, build_id, producer_seq, body)` — body is the event's JSON without
 *   `seq`/`at`; `build_id`/`producer_seq` are set for runner events;
 * - `snapshots(seq PK, state)` — the state at `seq`, the two newest kept.
 */
export class SqliteLog<B extends { type: string }, E extends { seq: number }, S>
  implements ChannelLog<B, E, S>
{
  constructor(
    private readonly sql: SqlLike,
    private readonly transactionSync: TransactionSync,
    private readonly parse: ParseEvent<E>,
    private readonly parseState: (json: unknown) => S,
  ) {}

  /** Creates the tables if they do not exist. Run once at start-up. */
  migrate(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY,
      type TEXT NOT NULL,
      at INTEGER NOT NULL,
      build_id TEXT,
      producer_seq INTEGER,
      body TEXT NOT NULL
    )`);
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, state TEXT NOT NULL)',
    );
  }

  append(entries: readonly LogEntry<B>[], firstSeq: number): E[] {
    return entries.map((entry, i) => {
      const seq = firstSeq + i;
      this.sql.exec(
        'INSERT INTO events (seq, type, at, build_id, producer_seq, body) VALUES (?, ?, ?, ?, ?, ?)',
        seq,
        entry.body.type,
        entry.at,
        entry.buildId ?? null,
        entry.producerSeq ?? null,
        JSON.stringify(entry.body),
      );
      return this.parse({ ...entry.body, seq, at: entry.at });
    });
  }

  read(after: number, limit: number): E[] {
    return this.rows(
      this.sql.exec<EventRow>(
        'SELECT seq, at, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
        after,
        limit,
      ),
    );
  }

  /** A scan from the end: the types asked for (checkpoints) are rare, not indexed. */
  lastOfType(type: B['type']): E | undefined {
    return this.rows(
      this.sql.exec<EventRow>(
        'SELECT seq, at, body FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1',
        type,
      ),
    )[0];
  }

  head(): number {
    return (
      this.sql.exec<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM events').one().seq ?? 0
    );
  }

  snapshot(): { seq: number; state: S } | undefined {
    const row = this.sql
      .exec<{ seq: number; state: string }>(
        'SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1',
      )
      .toArray()[0];
    return row && { seq: row.seq, state: this.parseState(JSON.parse(row.state)) };
  }

  snapshotSeq(): number {
    return (
      this.sql.exec<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM snapshots').one().seq ?? 0
    );
  }

  putSnapshot(seq: number, state: S): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO snapshots (seq, state) VALUES (?, ?)',
      seq,
      JSON.stringify(state),
    );
    this.sql.exec(
      'DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 2)',
    );
  }

  transaction<T>(fn: () => T): T {
    return this.transactionSync(fn);
  }

  private rows(rows: Iterable<EventRow>): E[] {
    const events: E[] = [];
    // Stored rows were validated on the way in; parse again so a corrupted row fails loudly.
    for (const row of rows) {
      events.push(this.parse({ ...JSON.parse(row.body), seq: row.seq, at: row.at }));
    }
    return events;
  }
}

type EventRow = { seq: number; at: number; body: string };
