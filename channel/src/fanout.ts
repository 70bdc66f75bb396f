import {
  FLUSH_WINDOW_MS,
  LAG_LIMIT_EVENTS,
  MAX_FRAME_BYTES,
  SEND_BUDGET_PER_SECOND,
  type SessionEvent,
  URGENT_EVENT_TYPES,
} from '@kiln/protocol';

/**
 * `events` frames (JSON text) for `events`, each with at most `maxEvents` events and at most
 * `MAX_FRAME_BYTES` of JSON (an event alone over it, impossible under MAX_EVENT_BYTES, would get
 * its own frame). Pure.
 */
export function eventFrames(
  events: readonly { seq: number }[],
  maxEvents = Number.POSITIVE_INFINITY,
): string[] {
  const frames: string[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  const overhead = '{"type":"events","events":[]}'.length;
  const push = () => {
    if (chunk.length > 0) frames.push(`{"type":"events","events":[${chunk.join(',')}]}`);
    chunk = [];
    bytes = 0;
  };
  for (const event of events) {
    const json = JSON.stringify(event);
    // UTF-16 length ×3 bounds the UTF-8 bytes: cheap, and never over the limit.
    const size = json.length * 3 + 1;
    if (
      chunk.length >= maxEvents ||
      (chunk.length > 0 && overhead + bytes + size > MAX_FRAME_BYTES)
    ) {
      push();
    }
    chunk.push(json);
    bytes += size;
  }
  push();
  return frames;
}

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
export interface FanoutTarget<S, E extends { seq: number } = SessionEvent> {
  subscribers(): Iterable<S>;
  /** How many sockets `subscribers()` holds (sets the flush window). */
  count(): number;
  send(socket: S, frame: string): void;
  /** Removes checkpoint state and the like before events reach viewers. */
  redact(event: E): E;
  /** Whether a batch goes out at once rather than at the end of the window (`isUrgent`). */
  urgent(events: readonly E[]): boolean;
  /** Tells a socket it is lagging (an `error {code: lagging}` frame). */
  lagging(socket: S): void;
  /** Sends a lagging socket that has caught up a snapshot at head; returns that seq. */
  resync(socket: S): number;
  /** Passes each flushed batch on elsewhere too (the session's viewer shards). */
  forward?(events: E[]): void;
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
export class Fanout<S, E extends { seq: number } = SessionEvent> {
  private pending: E[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastFlushAt = 0;
  private readonly sentSeq = new Map<S, number>();
  /** Last seq each acknowledging subscriber applied (in memory; gone after hibernation). */
  private readonly ackedSeq = new Map<S, number>();
  /** Lagging subscribers and the last seq they were sent before being held back. */
  private readonly laggingSockets = new Map<S, number>();
  /** The last seq sent to every subscriber not in `sentSeq`. */
  private lastFlushedSeq = 0;

  constructor(
    private readonly target: FanoutTarget<S, E>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues committed events and flushes now or schedules the flush. */
  publish(events: readonly E[]): void {
    if (events.length === 0) return;
    this.pending.push(...events);
    const window = flushWindowMs(this.target.count());
    const sinceFlush = this.now() - this.lastFlushAt;
    if (this.target.urgent(events) || sinceFlush >= window) {
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
    this.ackedSeq.delete(socket);
    this.laggingSockets.delete(socket);
  }

  /**
   * Records a subscriber's `ack {seq}`. A lagging subscriber that has acked everything it was
   * sent is resynced with a snapshot and receives live events again.
   */
  ack(socket: S, seq: number): void {
    this.ackedSeq.set(socket, seq);
    const heldAt = this.laggingSockets.get(socket);
    if (heldAt !== undefined && seq >= heldAt) {
      this.laggingSockets.delete(socket);
      this.sentSeq.set(socket, this.target.resync(socket));
    }
  }

  /** Whether `socket` is marked lagging (for tests and health). */
  isLagging(socket: S): boolean {
    return this.laggingSockets.has(socket);
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
    this.target.forward?.(redacted);
    // Most sockets take every pending event: build those frames once for all of them.
    const shared = eventFrames(redacted);
    for (const socket of this.target.subscribers()) {
      if (this.laggingSockets.has(socket)) continue;
      const acked = this.ackedSeq.get(socket);
      if (acked !== undefined && last - acked > LAG_LIMIT_EVENTS) {
        // Hold it back at what it was already sent; it resumes by snapshot once it acks that.
        this.laggingSockets.set(socket, this.sentSeq.get(socket) ?? this.lastFlushedSeq);
        this.sentSeq.delete(socket);
        this.target.lagging(socket);
        continue;
      }
      const sent = this.sentSeq.get(socket);
      // A socket caught up past this batch keeps its mark; one exactly at it no longer needs it.
      if (sent !== undefined && sent > last) continue;
      this.sentSeq.delete(socket);
      if (sent === last) continue;
      const frames =
        sent === undefined || sent < events[0]!.seq
          ? shared
          : eventFrames(redacted.filter((e) => e.seq > sent));
      for (const frame of frames) this.target.send(socket, frame);
    }
    this.lastFlushedSeq = last;
  }
}
