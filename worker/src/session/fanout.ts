import {
  FLUSH_WINDOW_MS,
  SEND_BUDGET_PER_SECOND,
  type SessionEvent,
  URGENT_EVENT_TYPES,
} from '@kiln/protocol';

/**
 * The flush window for `subscribers` sockets (ms): the default 16 ms until one flush per window
 * would exceed the object's send budget, then wide enough that
 * `subscribers × (1000 / window) ≤ SEND_BUDGET_PER_SECOND`. Pure.
 */
export function flushWindowMs(subscribers: number): number {
  return Math.max(FLUSH_WINDOW_MS, Math.ceil((subscribers * 1000) / SEND_BUDGET_PER_SECOND));
}

/** Whether a batch must go out at once (status, todos, tool calls) rather than wait for the window. */
export function isUrgent(events: readonly SessionEvent[]): boolean {
  return events.some((e) => URGENT_EVENT_TYPES.has(e.type));
}

/** What the fan-out needs from the object: the sockets ready for live events and a sender. */
export interface FanoutTarget<S> {
  subscribers(): S[];
  send(socket: S, frame: string): void;
  /** Removes checkpoint state and the like before events reach viewers. */
  redact(event: SessionEvent): SessionEvent;
}

/**
 * Batches committed events per flush window and sends each subscriber one `events` frame per
 * flush. The first batch after a quiet window goes out at once, urgent ones too.
 *
 * A subscriber that was caught up (`markSent`) while events were pending gets only the events past
 * what it was sent, so nothing reaches it twice. Sockets it has never seen are assumed to hold
 * everything before the pending events: that is true after hibernation, which only happens with
 * nothing pending.
 */
export class Fanout<S> {
  private pending: SessionEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastFlushAt = 0;
  private readonly sentSeq = new Map<S, number>();

  constructor(
    private readonly target: FanoutTarget<S>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues committed events and flushes now or schedules the flush. */
  publish(events: readonly SessionEvent[]): void {
    if (events.length === 0) return;
    this.pending.push(...events);
    const window = flushWindowMs(this.target.subscribers().length);
    const sinceFlush = this.now() - this.lastFlushAt;
    if (isUrgent(events) || sinceFlush >= window) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), window - sinceFlush);
    }
  }

  /** Records that `socket` was sent everything up to `seq` (after a catch-up). */
  markSent(socket: S, seq: number): void {
    this.sentSeq.set(socket, seq);
  }

  forget(socket: S): void {
    this.sentSeq.delete(socket);
  }

  /** Sends every pending event to every ready subscriber now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastFlushAt = this.now();
    const events = this.pending;
    if (events.length === 0) return;
    this.pending = [];
    const last = events[events.length - 1]!.seq;
    const redacted = events.map((e) => this.target.redact(e));
    let shared: string | undefined;
    for (const socket of this.target.subscribers()) {
      const sent = this.sentSeq.get(socket);
      if (sent !== undefined && sent >= last) {
        this.sentSeq.delete(socket);
        continue;
      }
      if (sent === undefined || sent < events[0]!.seq) {
        shared ??= JSON.stringify({ type: 'events', events: redacted });
        this.target.send(socket, shared);
      } else {
        this.target.send(
          socket,
          JSON.stringify({ type: 'events', events: redacted.filter((e) => e.seq > sent) }),
        );
      }
      this.sentSeq.delete(socket);
    }
  }

  /** Events committed but not yet sent (for tests and health). */
  pendingCount(): number {
    return this.pending.length;
  }
}
