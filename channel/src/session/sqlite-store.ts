import {
  type EventBody,
  type LeaseStatus,
  type SessionEvent,
  type SessionState,
  sessionEvent,
  sessionState,
} from '@kiln/protocol';
import { SqliteLog, type SqlLike, type TransactionSync } from '../sqlite-log';
import type { BuildRow, MetaKey, SessionStore, TimerName } from './session-store';

/**
 * A session's storage in DO SQLite, in the tables the SessionDO has always used: the log's
 * `events` and `snapshots` (sqlite-log.ts), and
 * - `builds(build_id PK, holder, agent, model, epoch, acked_producer_seq, lease_expires_at, status)`;
 * - `meta(key PK, value)` — ids, a pending interrupt, the D1 write-through cursor (`MetaKey`);
 * - `timers(name PK, due_at)` — every timer the one alarm drives.
 * (The viewer shards' table belongs to the SessionDO's ShardRouter.)
 */
export class SqliteSessionStore implements SessionStore {
  readonly log: SqliteLog<EventBody, SessionEvent, SessionState>;

  constructor(
    private readonly sql: SqlLike,
    private readonly transactionSync: TransactionSync,
  ) {
    this.log = new SqliteLog(
      sql,
      transactionSync,
      (json) => sessionEvent.parse(json),
      (json) => sessionState.parse(json),
    );
  }

  /** Creates the tables if they do not exist. Run once at start-up, under blockConcurrencyWhile. */
  migrate(): void {
    this.log.migrate();
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
    this.sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS timers (name TEXT PRIMARY KEY, due_at INTEGER NOT NULL)',
    );
  }

  getBuild(buildId: string): BuildRow | undefined {
    const row = this.sql
      .exec<BuildSqlRow>('SELECT * FROM builds WHERE build_id = ?', buildId)
      .toArray()[0];
    return row ? toBuild(row) : undefined;
  }

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

  getMeta(key: MetaKey): string | undefined {
    return this.sql
      .exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key)
      .toArray()[0]?.value;
  }

  setMeta(key: MetaKey, value: string): void {
    this.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value);
  }

  deleteMeta(key: MetaKey): void {
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

  takeDueTimers(now: number): TimerName[] {
    const due = this.sql
      .exec<{ name: TimerName }>('SELECT name FROM timers WHERE due_at <= ?', now)
      .toArray()
      .map((r) => r.name);
    this.sql.exec('DELETE FROM timers WHERE due_at <= ?', now);
    return due;
  }

  nextTimerAt(): number | undefined {
    return (
      this.sql.exec<{ at: number | null }>('SELECT MIN(due_at) AS at FROM timers').one().at ??
      undefined
    );
  }

  transaction<T>(fn: () => T): T {
    return this.transactionSync(fn);
  }
}

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
