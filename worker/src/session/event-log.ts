import {
  type EventBody,
  type LeaseStatus,
  type SessionEvent,
  type SessionState,
  sessionEvent,
  sessionState,
  type Viewer,
} from '@kiln/protocol';

/**
 * All of a session's DO SQLite storage, not only its event log (the class is named for its main
 * table): the ordered events, each build's producer and lease state, periodic state snapshots,
 * the timers the one alarm drives, the viewer shards and a small key/value table (session and
 * project ids, the D1 write-through cursor, the pending interrupt). Every statement binds its
 * values.
 *
 * Tables:
 * - `events(seq PK, type, at, build_id, producer_seq, body)` — body is the event's JSON without
 *   `seq`/`at`;
 * - `builds(build_id PK, holder, epoch, acked_producer_seq, lease_expires_at, status)`;
 * - `snapshots(seq PK, state)`;
 * - `meta(key PK, value)`;
 * - `timers(name PK, due_at)` — every timer the one alarm drives;
 * - `shards(idx PK, sockets, viewers)` — the viewer shards and who watches through each.
 */

export interface BuildRow {
  buildId: string;
  holder: string;
  agent: string;
  model: string;
  /** Highest producer epoch seen; -1 before the first hello. */
  epoch: number;
  ackedProducerSeq: number;
  /** `leased`: when the lease ends unless renewed; `expired`: when its grace period ends. */
  leaseExpiresAt: number;
  status: LeaseStatus;
}

export class EventLog {
  constructor(private readonly sql: SqlStorage) {}

  /** Creates the tables if they do not exist. Cheap enough to run in every constructor. */
  migrate(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS events (
      seq INTEGER PRIMARY KEY,
      type TEXT NOT NULL,
      at INTEGER NOT NULL,
      build_id TEXT,
      producer_seq INTEGER,
      body TEXT NOT NULL
    )`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS builds (
      build_id TEXT PRIMARY KEY,
      holder TEXT NOT NULL,
      agent TEXT NOT NULL,
      model TEXT NOT NULL,
      epoch INTEGER NOT NULL,
      acked_producer_seq INTEGER NOT NULL,
      lease_expires_at INTEGER NOT NULL,
      status TEXT NOT NULL
    )`);
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, state TEXT NOT NULL)',
    );
    this.sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS timers (name TEXT PRIMARY KEY, due_at INTEGER NOT NULL)',
    );
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS shards (idx INTEGER PRIMARY KEY, sockets INTEGER NOT NULL, viewers TEXT NOT NULL)',
    );
  }

  /** Appends events with consecutive seqs after the current head. Call inside a transaction. */
  append(
    events: readonly { body: EventBody; at: number; buildId?: string; producerSeq?: number }[],
    firstSeq: number,
  ): SessionEvent[] {
    return events.map((event, i) => {
      const seq = firstSeq + i;
      this.sql.exec(
        'INSERT INTO events (seq, type, at, build_id, producer_seq, body) VALUES (?, ?, ?, ?, ?, ?)',
        seq,
        event.body.type,
        event.at,
        event.buildId ?? null,
        event.producerSeq ?? null,
        JSON.stringify(event.body),
      );
      return { ...event.body, seq, at: event.at };
    });
  }

  /** Events with `seq > after`, in order, at most `limit`. */
  read(after: number, limit: number): SessionEvent[] {
    const rows = this.sql.exec<{ seq: number; at: number; body: string }>(
      'SELECT seq, at, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
      after,
      limit,
    );
    const events: SessionEvent[] = [];
    for (const row of rows) {
      // Stored rows were validated on the way in; parse again so a corrupted row fails loudly.
      events.push(sessionEvent.parse({ ...JSON.parse(row.body), seq: row.seq, at: row.at }));
    }
    return events;
  }

  /** The newest `checkpoint` event, if the log has one (an index-free scan from the end). */
  lastCheckpoint(): Extract<SessionEvent, { type: 'checkpoint' }> | undefined {
    const row = this.sql
      .exec<{ seq: number; at: number; body: string }>(
        "SELECT seq, at, body FROM events WHERE type = 'checkpoint' ORDER BY seq DESC LIMIT 1",
      )
      .toArray()[0];
    if (!row) return undefined;
    const event = sessionEvent.parse({ ...JSON.parse(row.body), seq: row.seq, at: row.at });
    return event.type === 'checkpoint' ? event : undefined;
  }

  getBuild(buildId: string): BuildRow | undefined {
    const row = this.sql
      .exec<BuildSqlRow>('SELECT * FROM builds WHERE build_id = ?', buildId)
      .toArray()[0];
    return row ? toBuild(row) : undefined;
  }

  /** Builds whose lease is live or in its grace period. */
  openBuilds(): BuildRow[] {
    return this.sql
      .exec<BuildSqlRow>("SELECT * FROM builds WHERE status IN ('leased', 'expired')")
      .toArray()
      .map(toBuild);
  }

  putBuild(build: BuildRow): void {
    this.sql.exec(
      `INSERT INTO builds (build_id, holder, agent, model, epoch, acked_producer_seq, lease_expires_at, status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (build_id) DO UPDATE SET holder = excluded.holder, agent = excluded.agent,
         model = excluded.model, epoch = excluded.epoch,
         acked_producer_seq = excluded.acked_producer_seq,
         lease_expires_at = excluded.lease_expires_at, status = excluded.status`,
      build.buildId,
      build.holder,
      build.agent,
      build.model,
      build.epoch,
      build.ackedProducerSeq,
      build.leaseExpiresAt,
      build.status,
    );
  }

  /** The newest snapshot, if any. */
  latestSnapshot(): SessionState | undefined {
    const rows = this.sql
      .exec<{ state: string }>('SELECT state FROM snapshots ORDER BY seq DESC LIMIT 1')
      .toArray();
    const row = rows[0];
    return row ? sessionState.parse(JSON.parse(row.state)) : undefined;
  }

  latestSnapshotSeq(): number {
    const row = this.sql
      .exec<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM snapshots')
      .one();
    return row.seq ?? 0;
  }

  /** Stores a snapshot and keeps only the two newest. */
  putSnapshot(state: SessionState): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO snapshots (seq, state) VALUES (?, ?)',
      state.headSeq,
      JSON.stringify(state),
    );
    this.sql.exec(
      'DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 2)',
    );
  }

  getMeta(key: string): string | undefined {
    const rows = this.sql
      .exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key)
      .toArray();
    return rows[0]?.value;
  }

  setMeta(key: string, value: string): void {
    this.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value);
  }

  /** Viewer shards by index, with their socket counts and viewers. */
  shards(): { index: number; sockets: number; viewers: Viewer[] }[] {
    return this.sql
      .exec<{ idx: number; sockets: number; viewers: string }>('SELECT * FROM shards ORDER BY idx')
      .toArray()
      .map((row) => ({
        index: row.idx,
        sockets: row.sockets,
        viewers: JSON.parse(row.viewers) as Viewer[],
      }));
  }

  putShard(index: number, sockets: number, viewers: readonly Viewer[]): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO shards (idx, sockets, viewers) VALUES (?, ?, ?)',
      index,
      sockets,
      JSON.stringify(viewers),
    );
  }

  deleteMeta(key: string): void {
    this.sql.exec('DELETE FROM meta WHERE key = ?', key);
  }

  setTimer(name: TimerName, dueAt: number): void {
    this.sql.exec('INSERT OR REPLACE INTO timers (name, due_at) VALUES (?, ?)', name, dueAt);
  }

  timerDueAt(name: TimerName): number | undefined {
    return this.sql
      .exec<{ due_at: number }>('SELECT due_at FROM timers WHERE name = ?', name)
      .toArray()[0]?.due_at;
  }

  /** Removes and returns the timers due at `now`. */
  takeDueTimers(now: number): TimerName[] {
    const due = this.sql
      .exec<{ name: TimerName }>('SELECT name FROM timers WHERE due_at <= ?', now)
      .toArray()
      .map((r) => r.name);
    this.sql.exec('DELETE FROM timers WHERE due_at <= ?', now);
    return due;
  }

  /** When the earliest timer is due, if any. */
  nextTimerAt(): number | undefined {
    return (
      this.sql.exec<{ at: number | null }>('SELECT MIN(due_at) AS at FROM timers').one().at ??
      undefined
    );
  }
}

/** Every timer the session's one alarm drives. */
export type TimerName = 'write-through' | 'lease' | 'interrupt';

type BuildSqlRow = {
  build_id: string;
  holder: string;
  agent: string;
  model: string;
  epoch: number;
  acked_producer_seq: number;
  lease_expires_at: number;
  status: LeaseStatus;
};

function toBuild(row: BuildSqlRow): BuildRow {
  return {
    buildId: row.build_id,
    holder: row.holder,
    agent: row.agent,
    model: row.model,
    epoch: row.epoch,
    ackedProducerSeq: row.acked_producer_seq,
    leaseExpiresAt: row.lease_expires_at,
    status: row.status,
  };
}
