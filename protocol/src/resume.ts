import type { ErrorCode } from './frames';
import { ACK_EVERY_EVENTS, PROTOCOL_VERSION } from './limits';

/**
 * The client side of resume (PROTOCOL.md §2, and §8 for the project channel), as a pure state
 * machine: frames in, frames to send and state out. No socket and no timer inside, so the web
 * store, the project channel, `kiln watch`, the chaos client and the bench all resume the same
 * way, and the rules are unit-tested in plain Node (resume.test.ts).
 *
 * Per connection: wait for `ready` → send `hello {lastSeq: head}` → apply contiguous `events` (or
 * take a `snapshot`) → on a seq gap send `hello` again from the head it holds. Events at or below
 * the head are counted as duplicates and skipped. `ack {seq}` goes out every `ACK_EVERY_EVENTS`
 * applied events; `ackPending` says a shorter ack is owed, which the runtime sends with
 * `flushAck()` within `ACK_DELAY_MS` (`ResumeLink` does that).
 */

/** What every channel's event has: its place in the log. */
export interface Sequenced {
  seq: number;
}

/** What every channel's state has: the seq of the last event applied to it. */
export interface HasHead {
  headSeq: number;
}

/** The server frames resume depends on; any other frame (`presence…`, `pong`) passes through. */
export type ResumeServerFrame<E extends Sequenced, S extends HasHead> =
  | { type: 'ready'; headSeq: number; protocolVersion: number }
  | { type: 'snapshot'; seq: number; state: S }
  | { type: 'events'; events: readonly E[] }
  | { type: 'error'; code: ErrorCode; fatal: boolean }
  | { type: 'presence' }
  | { type: 'presence-diff' }
  | { type: 'pong' };

/** The frames the subscriber sends. */
export type ResumeClientFrame = { type: 'hello'; lastSeq: number } | { type: 'ack'; seq: number };

/** What one incoming frame did. */
export interface ResumeStep<S> {
  /** Frames to send now, in order. */
  send: ResumeClientFrame[];
  /** The state after the frame. */
  state: S;
  /** The frame changed the state (a snapshot, or at least one event applied). */
  changed: boolean;
  /** This frame brought the connection up to the head its `ready` announced (once per connection). */
  caughtUp: boolean;
  /** Set when the server speaks another protocol version: stop, reconnecting cannot help. */
  incompatible?: string;
}

/** How long an ack may wait when fewer than `ACK_EVERY_EVENTS` are unacked (PROTOCOL.md §2), ms. */
export const ACK_DELAY_MS = 1000;

/** Resume state of one subscriber across its connections. `E` events build `S` with `apply`. */
export class ResumingSubscriber<E extends Sequenced, S extends HasHead> {
  private current: S;
  /** `ready` seen on this connection: only then may anything be sent. */
  private isReady = false;
  private headAtReady = 0;
  private reachedHead = false;
  /** `lastSeq` of this connection's last `hello`: a gap at that head is already asked for. */
  private helloSeq = -1;
  private acked = 0;
  /** Events received at or below the head (the server sent something this subscriber had). */
  duplicates = 0;
  /** Seq gaps seen (each one sent `hello` again unless one was already out for that head). */
  gaps = 0;

  /**
   * @param initial the state to resume after (e.g. loaded over HTTP, or an empty one).
   * @param apply the channel's reducer; called only with the event right after `headSeq`.
   */
  constructor(
    initial: S,
    private readonly apply: (state: S, event: E) => S,
  ) {
    this.current = initial;
  }

  /** The state as last applied. */
  get state(): S {
    return this.current;
  }

  /** `ready` arrived on the current connection (frames other than `hello` may be sent). */
  get ready(): boolean {
    return this.isReady;
  }

  /** The current connection has reached the head its `ready` announced. */
  get caughtUp(): boolean {
    return this.reachedHead;
  }

  /** Applied events not yet acknowledged: call `flushAck()` within `ACK_DELAY_MS`. */
  get ackPending(): boolean {
    return this.isReady && this.current.headSeq > this.acked;
  }

  /** A connection opened or closed: nothing may be sent until the next `ready`. */
  disconnected(): void {
    this.isReady = false;
    this.reachedHead = false;
    this.helloSeq = -1;
  }

  /** Handles one parsed server frame. */
  receive(frame: ResumeServerFrame<E, S>): ResumeStep<S> {
    const send: ResumeClientFrame[] = [];
    let changed = false;
    switch (frame.type) {
      case 'ready': {
        if (frame.protocolVersion !== PROTOCOL_VERSION) {
          this.disconnected();
          return {
            ...this.step(send, false, false),
            incompatible: `The server speaks protocol ${frame.protocolVersion}; this client speaks ${PROTOCOL_VERSION}.`,
          };
        }
        this.isReady = true;
        this.headAtReady = frame.headSeq;
        this.reachedHead = false;
        send.push(this.hello());
        break;
      }
      case 'snapshot':
        this.current = frame.state;
        changed = true;
        break;
      case 'events':
        changed = this.applyEvents(frame.events, send);
        break;
      case 'error':
        // Held back for lagging: the snapshot comes once everything sent is acked, so ack now.
        if (frame.code === 'lagging') {
          const ack = this.flushAck();
          if (ack) send.push(ack);
        }
        break;
      case 'presence':
      case 'presence-diff':
      case 'pong':
        break;
    }
    if (changed && this.current.headSeq - this.acked >= ACK_EVERY_EVENTS) {
      const ack = this.flushAck();
      if (ack) send.push(ack);
    }
    const caughtUp = this.isReady && !this.reachedHead && this.current.headSeq >= this.headAtReady;
    if (caughtUp) this.reachedHead = true;
    return this.step(send, changed, caughtUp);
  }

  /** The `ack` owed now, if any (after it, nothing is pending). */
  flushAck(): ResumeClientFrame | null {
    if (!this.ackPending) return null;
    this.acked = this.current.headSeq;
    return { type: 'ack', seq: this.acked };
  }

  private applyEvents(events: readonly E[], send: ResumeClientFrame[]): boolean {
    const before = this.current;
    let state = before;
    for (const event of events) {
      if (event.seq <= state.headSeq) {
        this.duplicates++;
        continue;
      }
      if (event.seq !== state.headSeq + 1) {
        this.gaps++;
        // Batches racing the answer to a `hello` at this head: that answer will fill the gap.
        if (this.isReady && state.headSeq !== this.helloSeq) {
          this.current = state;
          send.push(this.hello());
        }
        break;
      }
      state = this.apply(state, event);
    }
    this.current = state;
    return state !== before;
  }

  private hello(): ResumeClientFrame {
    this.helloSeq = this.current.headSeq;
    this.acked = this.helloSeq;
    return { type: 'hello', lastSeq: this.helloSeq };
  }

  private step(send: ResumeClientFrame[], changed: boolean, caughtUp: boolean): ResumeStep<S> {
    return { send, state: this.current, changed, caughtUp };
  }
}

/**
 * Runtime glue for a `ResumingSubscriber`: sends the frames each step asks for through `send`
 * and the delayed ack from a timer. `disconnected()` on every open and close, `stop()` when done.
 */
export class ResumeLink<E extends Sequenced, S extends HasHead> {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly subscriber: ResumingSubscriber<E, S>,
    private readonly send: (frame: ResumeClientFrame) => void,
    private readonly ackDelayMs = ACK_DELAY_MS,
  ) {}

  /** Handles one parsed server frame; the returned step's frames have been sent. */
  receive(frame: ResumeServerFrame<E, S>): ResumeStep<S> {
    const step = this.subscriber.receive(frame);
    for (const out of step.send) this.send(out);
    if (this.subscriber.ackPending && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        const ack = this.subscriber.flushAck();
        if (ack) this.send(ack);
      }, this.ackDelayMs);
    }
    return step;
  }

  /** The connection opened or closed. */
  disconnected(): void {
    this.stop();
    this.subscriber.disconnected();
  }

  /** Stops the ack timer. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
