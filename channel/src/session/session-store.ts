import type { EventBody, LeaseStatus, SessionEvent, SessionState } from '@kiln/protocol';
import type { ChannelLog } from '../log';

/**
 * Everything a session stores: its log, producer state per build, a small key/value table and
 * the due times of the timers its one alarm drives. Two backends: `SqliteSessionStore` (DO
 * SQLite) and `MemorySessionStore` (plain Node: tests, the runner's fake server).
 */
export interface SessionStore {
  readonly log: ChannelLog<EventBody, SessionEvent, SessionState>;
  getBuild(buildId: string): BuildRow | undefined;
  /** Builds whose lease is live or in its grace period. */
  openBuilds(): BuildRow[];
  putBuild(build: BuildRow): void;
  getMeta(key: MetaKey): string | undefined;
  setMeta(key: MetaKey, value: string): void;
  deleteMeta(key: MetaKey): void;
  setTimer(name: TimerName, dueAt: number): void;
  timerDueAt(name: TimerName): number | undefined;
  /** Removes and returns the timers due at `now` (ms epoch). */
  takeDueTimers(now: number): TimerName[];
  /** When the earliest timer is due (ms epoch), if any. */
  nextTimerAt(): number | undefined;
  /** Runs `fn` atomically over the log and every table: all it wrote is stored, or nothing. */
  transaction<T>(fn: () => T): T;
}

/** One leased build and its producer state. */
export interface BuildRow {
  buildId: string;
  /** Who may ingest into it: `user:<id>` or `runner:<id>`. */
  holder: string;
  agent: string;
  model: string;
  /** Highest producer epoch seen; -1 before the first hello. */
  epoch: number;
  /** Highest producer seq durable in the log (0: none yet). */
  ackedProducerSeq: number;
  /** `leased`: when the lease ends unless renewed; `expired`: when its grace period ends. */
  leaseExpiresAt: number;
  status: LeaseStatus;
}

/** Every timer the session's one alarm drives. */
export type TimerName = 'write-through' | 'lease' | 'interrupt';

/** The session's key/value entries: its ids, a pending interrupt, the D1 write-through cursor. */
export type MetaKey =
  | 'sessionId'
  | 'projectId'
  | 'interruptTurnId'
  | 'd1Seq'
  | 'd1Attempts'
  | 'd1LastError';
