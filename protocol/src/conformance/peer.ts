import type { z } from 'zod';
import type { RunnerEventBody, SessionEvent } from '../events';
import {
  type ErrorFrame,
  type IngestServerFrame,
  ingestServerFrame,
  parseFrame,
  type SessionServerFrame,
  sessionServerFrame,
} from '../frames';
import { MAX_EVENTS_PER_FRAME, MAX_FRAME_BYTES } from '../limits';
import type { ConformanceSession, SocketSender } from './target';

const encoder = new TextEncoder();

/** How long a wait in the suite may take before it fails the test (a failure, never a pacing). */
const WAIT_MS = 15_000;

/**
 * A test-side socket that records every frame the server sends, validated against the
 * protocol's schema for that direction and `MAX_FRAME_BYTES`: a frame that fails either is a
 * conformance failure of its own (`invalid`). Presence frames (`presence`, `presence-diff`)
 * are validated but left out of `frames`: which of them a socket gets depends on who else joined.
 */
export class Peer<F extends { type: string }> {
  readonly frames: F[] = [];
  /** Frames that did not match the direction's schema, with zod's message. */
  readonly invalid: string[] = [];
  /** UTF-8 bytes of the largest frame received. */
  largestFrameBytes = 0;
  /**
   * Whether a frame over `MAX_FRAME_BYTES` counts as `invalid`; a test that asserts on
   * `largestFrameBytes` itself turns it off.
   */
  checkFrameBytes = true;
  /** Set once the socket closed. */
  closed: { code: number; reason: string } | undefined;
  private sender: SocketSender | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly schema: z.ZodType<F>) {}

  /** The handlers a target installs on the socket. */
  readonly handlers = {
    onText: (text: string) => {
      const bytes = encoder.encode(text).length;
      this.largestFrameBytes = Math.max(this.largestFrameBytes, bytes);
      if (this.checkFrameBytes && bytes > MAX_FRAME_BYTES) {
        this.invalid.push(`a frame of ${bytes} bytes`);
      }
      const parsed = parseFrame(this.schema, text);
      if (!parsed.ok) {
        this.invalid.push(`${parsed.message}: ${text.slice(0, 200)}`);
      } else if (parsed.frame.type !== 'presence' && parsed.frame.type !== 'presence-diff') {
        this.frames.push(parsed.frame);
      }
      this.wake();
    },
    onClose: (code: number, reason: string) => {
      this.closed = { code, reason };
      this.wake();
    },
  };

  attach(sender: SocketSender): this {
    this.sender = sender;
    return this;
  }

  /** Sends a frame: an object as JSON, a string as is (for malformed frames). */
  send(frame: object | string): void {
    if (!this.sender) throw new Error('peer is not attached to a socket');
    this.sender.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  close(): void {
    if (!this.closed) this.sender?.close();
  }

  /** Resolves when `check` holds over what was received; fails the test after `WAIT_MS`. */
  waitFor(check: () => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const test = () => {
        if (this.invalid.length > 0) {
          done();
          reject(new Error(`the server sent frames outside the protocol: ${this.invalid[0]}`));
        } else if (check()) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; got ${this.describe()}`));
      }, WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(test);
      };
      this.waiters.add(test);
      test();
    });
  }

  /** Waits for the `n`th frame of `type` and returns every frame of it so far. */
  async waitForType<T extends F['type']>(type: T, n = 1): Promise<Extract<F, { type: T }>[]> {
    await this.waitFor(() => this.ofType(type).length >= n, `${n} ${type} frame(s)`);
    return this.ofType(type);
  }

  ofType<T extends F['type']>(type: T): Extract<F, { type: T }>[] {
    return this.frames.filter((f): f is Extract<F, { type: T }> => f.type === type);
  }

  errors(): ErrorFrame[] {
    return this.frames.filter((f): f is F & ErrorFrame => f.type === 'error');
  }

  /**
   * A barrier: a ping spelled differently from the runtime's auto-answered `{"type":"ping"}`, so
   * the server itself answers it after everything it sent before (PROTOCOL.md §2, Ping). Once its
   * pong is here, nothing the earlier frames caused is still on its way.
   */
  async barrier(): Promise<void> {
    const pongs = this.ofType('pong').length;
    this.send('{ "type": "ping" }');
    await this.waitFor(() => this.ofType('pong').length > pongs, 'pong');
  }

  /** Waits for the socket to close; returns its code. */
  async closeCode(): Promise<number> {
    await this.waitFor(() => this.closed !== undefined, 'close');
    return this.closed!.code;
  }

  private describe(): string {
    const closed = this.closed ? ` (closed ${this.closed.code})` : '';
    return `${JSON.stringify(this.frames).slice(0, 1500)}${closed}`;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** A subscriber socket's peer, with the events it received in arrival order. */
export class Subscriber extends Peer<SessionServerFrame> {
  constructor() {
    super(sessionServerFrame);
  }

  events(): SessionEvent[] {
    return this.ofType('events').flatMap((f) => f.events);
  }

  /** Waits until `n` events arrived in `events` frames. */
  async waitForEvents(n: number): Promise<SessionEvent[]> {
    await this.waitFor(() => this.events().length >= n, `${n} events`);
    return this.events();
  }
}

/** An ingest socket's peer. */
export class Producer extends Peer<IngestServerFrame> {
  constructor() {
    super(ingestServerFrame);
  }

  /** Sends `events` with producer seqs `first…` in frames of `MAX_EVENTS_PER_FRAME`; awaits the ack. */
  async produce(first: number, events: readonly RunnerEventBody[]): Promise<void> {
    for (let i = 0; i < events.length; i += MAX_EVENTS_PER_FRAME) {
      this.send({
        type: 'events',
        firstProducerSeq: first + i,
        events: events.slice(i, i + MAX_EVENTS_PER_FRAME),
      });
    }
    const last = first + events.length - 1;
    await this.waitFor(
      () => this.ofType('ack').some((a) => a.producerSeq >= last),
      `ack of producer seq ${last}`,
    );
  }
}

/** Opens a subscriber socket and waits for its `ready`; sends `hello {lastSeq}` if given. */
export async function subscribe(
  session: ConformanceSession,
  lastSeq?: number,
): Promise<Subscriber> {
  const peer = new Subscriber();
  peer.attach(await session.openSubscriber(peer.handlers));
  await peer.waitForType('ready');
  if (lastSeq !== undefined) peer.send({ type: 'hello', lastSeq });
  return peer;
}

/** Opens an ingest socket and says `hello {buildId, producerEpoch}`; waits for `ready` or `error`. */
export async function connectProducer(
  session: ConformanceSession,
  producerEpoch = 1,
  buildId = session.buildId,
): Promise<Producer> {
  const peer = new Producer();
  peer.attach(await session.openIngest(peer.handlers));
  peer.send({ type: 'hello', buildId, producerEpoch });
  await peer.waitFor(
    () => peer.frames.some((f) => f.type === 'ready' || f.type === 'error'),
    'ingest ready',
  );
  return peer;
}

/** `count` `session-renamed` events titled `t<from>…`: small, and never coalesced. */
export function renames(from: number, count: number): RunnerEventBody[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'session-renamed',
    title: `t${from + i}`,
  }));
}
