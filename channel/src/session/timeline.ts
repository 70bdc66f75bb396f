import {
  applyEvents,
  createSessionState,
  type EventBody,
  type SessionEvent,
  type SessionState,
} from '@kiln/protocol';
import type { RoomEffect } from './room-types';
import type { SessionStore, TimerName } from './session-store';

/** Events between stored state snapshots, so loading never re-reads the whole log. */
export const SNAPSHOT_EVERY = 1000;
/** Delay before the D1 write-through runs after a commit: keeps D1 off the hot path. */
export const WRITE_THROUGH_DELAY_MS = 200;

/**
 * An event to commit, and for a runner's event the build and producer seq it came under. `at`
 * (ms epoch) is an imported event's recorded time; other events are committed at the clock.
 */
export interface Produced {
  body: EventBody;
  buildId?: string;
  producerSeq?: number;
  at?: number;
}

/**
 * The session's state at head and how it moves: commits (log + reducer state + snapshots) and
 * the timers behind its one alarm. Part of `SessionRoom`; its effects go to the room's queue.
 */
export class SessionTimeline<S> {
  state: SessionState | null = null;
  /** When the platform alarm is set for (null: not set); the earliest timer at most. */
  private alarmAt: number | null = null;

  constructor(
    private readonly store: SessionStore,
    private readonly clock: () => number,
    private readonly emit: (effect: RoomEffect<S>) => void,
    private readonly snapshotEvery = SNAPSHOT_EVERY,
    private readonly writeThroughDelayMs = WRITE_THROUGH_DELAY_MS,
  ) {}

  /** Loads the state: the newest snapshot, then the log after it. */
  load(alarmAt: number | null, d1Behind: (headSeq: number) => boolean): void {
    this.alarmAt = alarmAt;
    const sessionId = this.store.getMeta('sessionId');
    const projectId = this.store.getMeta('projectId');
    if (!sessionId || !projectId) return;
    let state = this.store.log.snapshot()?.state ?? createSessionState(sessionId, projectId);
    for (;;) {
      const events = this.store.log.read(state.headSeq, 5000);
      if (events.length === 0) break;
      state = applyEvents(state, events);
    }
    this.state = state;
    if (d1Behind(state.headSeq)) this.scheduleWriteThrough();
  }

  /** The state at head; throws before the session was created. */
  require(): SessionState {
    if (!this.state) throw new Error('session is not initialized');
    return this.state;
  }

  /**
   * Assigns seqs, stores the events and runs `alsoInTransaction` (producer state) in one
   * transaction; only then applies them to the state, snapshots every `snapshotEvery` events,
   * publishes them and schedules the D1 write-through. A throw leaves nothing stored or applied.
   */
  commit(events: readonly Produced[], alsoInTransaction = () => {}): SessionEvent[] {
    const { store } = this;
    const state = this.require();
    if (events.length === 0) {
      store.transaction(alsoInTransaction);
      return [];
    }
    const now = this.clock();
    const committed = store.transaction(() => {
      const stored = store.log.append(
        events.map((e) => ({
          body: e.body,
          at: e.at ?? now,
          buildId: e.buildId,
          producerSeq: e.producerSeq,
        })),
        state.headSeq + 1,
      );
      alsoInTransaction();
      return stored;
    });
    this.state = applyEvents(state, committed);
    if (this.state.headSeq - store.log.snapshotSeq() >= this.snapshotEvery) {
      store.log.putSnapshot(this.state.headSeq, this.state);
    }
    this.emit({ kind: 'publish', events: committed });
    this.scheduleWriteThrough();
    return committed;
  }

  /** Sets (or moves) a timer; the alarm is moved earlier if needed. */
  setTimer(name: TimerName, dueAt: number): void {
    this.store.setTimer(name, dueAt);
    this.moveAlarm(dueAt);
  }

  /** Takes the timers due now (the alarm rang, so it is no longer set). */
  takeDueTimers(now: number): TimerName[] {
    this.alarmAt = null;
    return this.store.takeDueTimers(now);
  }

  /** Points the alarm at the earliest timer left, if any. */
  syncAlarm(): void {
    const next = this.store.nextTimerAt();
    if (next !== undefined) this.moveAlarm(next);
  }

  /** Forgets the state and the alarm (the object deleted its storage). */
  reset(): void {
    this.state = null;
    this.alarmAt = null;
  }

  private scheduleWriteThrough(): void {
    if (this.store.timerDueAt('write-through') !== undefined) return;
    this.setTimer('write-through', this.clock() + this.writeThroughDelayMs);
  }

  private moveAlarm(at: number): void {
    if (this.alarmAt !== null && at >= this.alarmAt) return;
    this.alarmAt = at;
    this.emit({ kind: 'alarm', at });
  }
}
