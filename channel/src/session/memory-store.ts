import {
  type EventBody,
  type SessionEvent,
  type SessionState,
  sessionEvent,
  sessionState,
} from '@kiln/protocol';
import { MemoryLog } from '../log';
import type { BuildRow, MetaKey, SessionStore, TimerName } from './session-store';

/**
 * A session's storage in memory, for plain-Node tests and the runner's fake server. A
 * transaction that throws rolls back the log and every table, as SQLite would.
 */
export class MemorySessionStore implements SessionStore {
  readonly log = new MemoryLog<EventBody, SessionEvent, SessionState>(
    (json) => sessionEvent.parse(json),
    (json) => sessionState.parse(json),
  );
  private builds = new Map<string, BuildRow>();
  private meta = new Map<MetaKey, string>();
  private timers = new Map<TimerName, number>();

  getBuild(buildId: string): BuildRow | undefined {
    const build = this.builds.get(buildId);
    return build && { ...build };
  }

  openBuilds(): BuildRow[] {
    return [...this.builds.values()]
      .filter((b) => b.status === 'leased' || b.status === 'expired')
      .map((b) => ({ ...b }));
  }

  putBuild(build: BuildRow): void {
    this.builds.set(build.buildId, { ...build });
  }

  getMeta(key: MetaKey): string | undefined {
    return this.meta.get(key);
  }

  setMeta(key: MetaKey, value: string): void {
    this.meta.set(key, value);
  }

  deleteMeta(key: MetaKey): void {
    this.meta.delete(key);
  }

  setTimer(name: TimerName, dueAt: number): void {
    this.timers.set(name, dueAt);
  }

  timerDueAt(name: TimerName): number | undefined {
    return this.timers.get(name);
  }

  takeDueTimers(now: number): TimerName[] {
    const due = [...this.timers].filter(([, at]) => at <= now).map(([name]) => name);
    for (const name of due) this.timers.delete(name);
    return due;
  }

  nextTimerAt(): number | undefined {
    const times = [...this.timers.values()];
    return times.length === 0 ? undefined : Math.min(...times);
  }

  transaction<T>(fn: () => T): T {
    const builds = new Map(this.builds);
    const meta = new Map(this.meta);
    const timers = new Map(this.timers);
    try {
      return this.log.transaction(fn);
    } catch (error) {
      this.builds = builds;
      this.meta = meta;
      this.timers = timers;
      throw error;
    }
  }
}
