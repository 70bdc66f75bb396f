import {
  type IngestEvent,
  type IngestServerFrame,
  ingestServerFrame,
  MAX_EVENT_BYTES,
  PING_FRAME,
  parseFrame,
  type RunnerCommand,
  type RunnerEventBody,
} from '@kiln/protocol';
import { AbortError } from 'p-retry';
import WebSocket from 'ws';
import { ServerError } from '../net/errors';
import { keepConnected, openSocket } from '../net/socket';
import type { OutboxEntry } from '../outbox';
import { eventsFrameText, frameSize, type PendingEvent } from './frames';

/** Options of an `IngestProducer`. Times in ms. */

/** How long to wait before resending after `rate-limited` (the server's bucket refills per second). */
const RATE_LIMIT_PAUSE_MS = 250;

export interface IngestProducerOptions {
  /** ws(s) URL of the session's ingest socket (`…/api/sessions/:id/ingest`). */
  url: string;
  /** Personal access or runner token. */
  token: string;
  /** The leased build the events belong to. */
  buildId: string;
  /** Raised each time a producer restarts with the same build; default 0. */
  producerEpoch?: number;
  /** Most `events` frames sent and not yet acknowledged; default 8. */
  maxFramesInFlight?: number;
  /** Most events per frame; default (and at most) MAX_EVENTS_PER_FRAME. */
  maxEventsPerFrame?: number;
  /** Application ping interval; default 15 000. A socket silent for two intervals is dropped. */
  pingIntervalMs?: number;
  /** Reconnect backoff: first delay and cap (jittered ×1–2, doubling); defaults 250 and 10 000. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * Durable storage under the producer (the runner's libSQL outbox): an appended event is sent
   * only once `store.append` has stored it, and `store.ack` is told what the server acknowledged.
   * Without it, unacknowledged events live only in memory.
   */
  store?: ProducerStore;
  /**
   * Continue a producer that a killed process left behind: the outbox's acked seq, its next seq,
   * and the events it still holds (already stored; they are sent again, not stored again).
   */
  resume?: { ackedSeq: number; nextSeq: number; entries: readonly OutboxEntry[] };
  /** Commands the session sends to its producer (interrupt, user message). */
  onCommand?: (command: RunnerCommand) => void;
  /** Progress worth telling a person about (reconnects, refused frames). */
  onNotice?: (message: string) => void;
}

/** Where a producer keeps its events until they are acknowledged (see `Outbox.forBuild`). */
interface ProducerStore {
  /** Stores events under the next producer seqs, durably; resolves with those seqs. */
  append(events: readonly RunnerEventBody[]): Promise<number[]>;
  /** Forgets every event at or below `producerSeq`. */
  ack(producerSeq: number): Promise<void>;
}

interface FlushWaiter {
  target: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * An idempotent producer on the ingest socket (DESIGN §3): every appended event gets the next
 * producer seq (1, 2, 3 …) and stays in memory until the server acknowledges it; after a
 * reconnect, sending resumes from `ready.ackedProducerSeq`, and on `producer-gap` from the seq the
 * server expects. The server drops duplicates, so everything is committed exactly once. With a
 * `store`, every event is stored durably before it is sent and deleted once acknowledged, so a
 * new process can `resume` what a killed one left (DESIGN §1 step 4).
 */
export class IngestProducer {
  private nextSeq = 1;
  private ackedSeq = 0;
  /** Highest seq stored durably (sendable); equals nextSeq - 1 without a store. */
  private durableSeq = 0;
  /** Store writes in order: appends, then the ack deletions. */
  private storeWrites: Promise<void> = Promise.resolve();
  private storeAcks: Promise<void> = Promise.resolve();
  /** Highest seq sent on the current socket. */
  private sentSeq = 0;
  /** Unacked events in seq order; `pending[0].seq === ackedSeq + 1`. */
  private pending: PendingEvent[] = [];
  /** Last seq of each frame in flight on the current socket. */
  private inFlight: number[] = [];
  /** The socket after its `ready`; null while (re)connecting. */
  private socket: WebSocket | null = null;
  /** The socket being opened or in use, so close() can end it before its `ready` too. */
  private current: WebSocket | null = null;
  private gapResentFrom = 0;
  /** Set while waiting to resend after `rate-limited`. */
  private rateLimitTimer: ReturnType<typeof setTimeout> | undefined;
  private waiters: FlushWaiter[] = [];
  private failure: Error | null = null;
  private closed = false;
  private started = false;
  private pumpQueued = false;
  private lastHeardAt = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private readonly maxFramesInFlight: number;
  private readonly pingIntervalMs: number;

  constructor(private readonly options: IngestProducerOptions) {
    this.maxFramesInFlight = options.maxFramesInFlight ?? 8;
    this.pingIntervalMs = options.pingIntervalMs ?? 15_000;
    const resume = options.resume;
    if (resume) {
      this.ackedSeq = resume.ackedSeq;
      this.sentSeq = resume.ackedSeq;
      this.pending = resume.entries
        .filter((e) => e.producerSeq > resume.ackedSeq)
        .map((e) => {
          const json = JSON.stringify(e.event);
          return { seq: e.producerSeq, json, bytes: Buffer.byteLength(json) };
        });
      const expected = resume.ackedSeq + 1;
      if (this.pending.some((e, i) => e.seq !== expected + i)) {
        throw new Error(
          `the outbox of build ${options.buildId} has a gap after ${resume.ackedSeq}`,
        );
      }
      this.nextSeq = Math.max(resume.nextSeq, expected + this.pending.length);
      this.durableSeq = this.nextSeq - 1;
    }
  }

  /** Highest producer seq the server has acknowledged. */
  get ackedProducerSeq(): number {
    return this.ackedSeq;
  }

  /**
   * Queues events for sending; connects on first use. Errors: throws when the producer failed or
   * was closed, or when one event's JSON is over MAX_EVENT_BYTES.
   */
  append(events: readonly IngestEvent[]): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('the producer is closed');
    const serialised = events.map((event) => {
      const json = JSON.stringify(event);
      const bytes = Buffer.byteLength(json);
      if (bytes > MAX_EVENT_BYTES) {
        throw new RangeError(
          `a ${event.type} event is ${bytes} bytes; the limit is ${MAX_EVENT_BYTES}`,
        );
      }
      return { json, bytes };
    });
    const first = this.nextSeq;
    for (const { json, bytes } of serialised) {
      const seq = this.nextSeq++;
      // A restarted producer that replays its run from seq 1 may append what the server already
      // acknowledged (`ready.ackedProducerSeq`): those are done, and keeping them would break
      // `pending[0].seq === ackedSeq + 1`.
      if (seq > this.ackedSeq) this.pending.push({ seq, json, bytes });
    }
    const last = this.nextSeq - 1;
    const store = this.options.store;
    if (store && events.length > 0) {
      // Stored in append order; each batch becomes sendable only once it is on disk.
      this.storeWrites = this.storeWrites.then(async () => {
        if (this.failure) return;
        try {
          const seqs = await store.append(events);
          if (seqs[0] !== first) {
            throw new Error(`the outbox gave producer seq ${seqs[0]}, the producer ${first}`);
          }
          this.durableSeq = last;
          this.schedulePump();
        } catch (error) {
          this.fail(toError(error));
        }
      });
    } else {
      this.durableSeq = last;
    }
    this.start();
    this.schedulePump();
  }

  /**
   * Resolves when everything appended so far is acknowledged (and, with a store, deleted from
   * it); rejects if the producer fails.
   */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    const target = this.nextSeq - 1;
    if (this.ackedSeq < target) {
      this.start();
      await new Promise<void>((resolve, reject) => this.waiters.push({ target, resolve, reject }));
    }
    await this.storeAcks;
  }

  /** Stops reconnecting and closes the socket; pending flushes reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.dropSocket(1000, 'producer closed');
    this.rejectWaiters(new Error('the producer was closed before everything was acknowledged'));
  }

  // --- connection ---

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.run().catch((error: unknown) => this.fail(toError(error)));
  }

  /** Connects, and reconnects with jittered exponential backoff until closed or failed. */
  private async run(): Promise<void> {
    await keepConnected(() => this.connect(), {
      label: 'ingest socket',
      signal: this.abort.signal,
      active: () => !this.closed && !this.failure,
      minRetryDelayMs: this.options.minRetryDelayMs,
      maxRetryDelayMs: this.options.maxRetryDelayMs,
      onNotice: this.options.onNotice,
    });
  }

  /**
   * Opens a socket, says hello and waits for `ready`. Resolves with `closed`, a promise of the
   * socket's close; rejects (to be retried unless permanent) when the socket fails before `ready`.
   */
  private async connect(): Promise<{ closed: Promise<void> }> {
    // The server speaks only after hello, but keep anything it sends before the handler is set.
    const early: string[] = [];
    let handle: ((text: string) => void) | null = null;
    const ws = await openSocket(this.options.url, this.options.token, (_ws, text) => {
      if (handle) handle(text);
      else early.push(text);
    });
    if (this.closed || this.failure) {
      ws.close(1000);
      throw new AbortError('the producer stopped');
    }
    this.current = ws;
    return new Promise((resolveReady, rejectReady) => {
      let ready = false;
      const closed = new Promise<void>((resolveClosed) => {
        ws.on('close', (code, reason) => {
          if (this.socket === ws) this.dropSocket();
          if (this.current === ws) this.current = null;
          if (!ready) {
            rejectReady(
              new ServerError(
                `ingest socket closed before ready (${code} ${reason})`,
                0,
                undefined,
              ),
            );
          }
          resolveClosed();
        });
      });
      ws.on('error', (error) => {
        // 'close' follows every 'error'; reconnecting happens there.
        this.options.onNotice?.(`ingest socket error: ${error.message}`);
      });
      handle = (text) => {
        this.lastHeardAt = Date.now();
        const parsed = parseFrame(ingestServerFrame, text);
        if (!parsed.ok) {
          this.options.onNotice?.(`ignored a bad frame from the server: ${parsed.message}`);
          return;
        }
        const frame = parsed.frame;
        if (!ready) {
          if (frame.type === 'ready') {
            ready = true;
            this.onReady(ws, frame.ackedProducerSeq);
            resolveReady({ closed }); // wrapped: resolving with a bare promise would adopt it
          } else if (frame.type === 'error') {
            const error = new ServerError(`ingest refused: ${frame.message}`, 0, frame.code);
            rejectReady(error);
            ws.terminate();
          }
          return;
        }
        if (ws === this.socket) this.onFrame(frame);
      };
      for (const text of early.splice(0)) handle(text);
      ws.send(
        JSON.stringify({
          type: 'hello',
          buildId: this.options.buildId,
          producerEpoch: this.options.producerEpoch ?? 0,
        }),
      );
    });
  }

  private onReady(ws: WebSocket, ackedProducerSeq: number): void {
    if (ackedProducerSeq < this.ackedSeq) {
      this.fail(
        new Error(
          `the server acknowledged ${this.ackedSeq} events before and now only ${ackedProducerSeq}`,
        ),
      );
      ws.close(1000);
      return;
    }
    this.socket = ws;
    this.inFlight = [];
    this.gapResentFrom = 0;
    this.onAck(ackedProducerSeq);
    this.sentSeq = this.ackedSeq;
    this.lastHeardAt = Date.now();
    this.pingTimer = setInterval(() => this.ping(ws), this.pingIntervalMs);
    this.pingTimer.unref();
    this.pump();
  }

  private onFrame(frame: IngestServerFrame): void {
    switch (frame.type) {
      case 'ack':
        this.onAck(frame.producerSeq);
        return;
      case 'error': {
        if (frame.code === 'producer-gap' && frame.expectedProducerSeq !== undefined) {
          this.onGap(frame.expectedProducerSeq);
          return;
        }
        if (frame.code === 'rate-limited' && frame.expectedProducerSeq !== undefined) {
          // The frame was refused, not stored: resend from where the server is, after a pause.
          // Every frame in flight is refused alike: one timer resends them all.
          if (!this.rateLimitTimer) {
            const expected = frame.expectedProducerSeq;
            this.rateLimitTimer = setTimeout(() => {
              this.rateLimitTimer = undefined;
              this.gapResentFrom = 0;
              this.onGap(expected);
            }, RATE_LIMIT_PAUSE_MS);
            this.rateLimitTimer.unref();
          }
          return;
        }
        const error = new ServerError(`ingest error: ${frame.message}`, 0, frame.code);
        if (error.permanent) this.fail(error);
        else this.options.onNotice?.(`${error.message}${frame.fatal ? '; reconnecting' : ''}`);
        return;
      }
      case 'command':
        this.options.onCommand?.(frame.command);
        return;
      case 'ready':
      case 'pong':
        return;
    }
  }

  private onAck(producerSeq: number): void {
    if (producerSeq <= this.ackedSeq) return;
    const drop = Math.min(producerSeq - this.ackedSeq, this.pending.length);
    this.pending = this.pending.slice(drop);
    this.ackedSeq = producerSeq;
    if (this.sentSeq < producerSeq) this.sentSeq = producerSeq;
    const store = this.options.store;
    if (store) {
      this.storeAcks = this.storeAcks.then(() =>
        store.ack(producerSeq).catch((error: unknown) => {
          // Harmless: the events stay stored and a restart resends them; the server drops them
          // as duplicates.
          this.options.onNotice?.(`could not delete acknowledged events: ${String(error)}`);
        }),
      );
    }
    this.inFlight = this.inFlight.filter((last) => last > producerSeq);
    const done = this.waiters.filter((w) => w.target <= producerSeq);
    this.waiters = this.waiters.filter((w) => w.target > producerSeq);
    for (const waiter of done) waiter.resolve();
    this.schedulePump();
  }

  /** The server holds everything below `expected`: resend from there (once per gap). */
  private onGap(expected: number): void {
    if (expected - 1 < this.ackedSeq) {
      this.fail(new Error(`the server expects producer seq ${expected}, already acknowledged`));
      return;
    }
    this.onAck(expected - 1);
    // Frames sent after the missing one are refused too; one resend answers them all.
    if (this.gapResentFrom === expected && this.sentSeq >= expected) return;
    this.gapResentFrom = expected;
    this.sentSeq = expected - 1;
    this.inFlight = [];
    this.pump();
  }

  // --- sending ---

  /** Appends made in one tick go out together rather than as one-event frames. */
  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    const ws = this.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    while (this.inFlight.length < this.maxFramesInFlight && this.sentSeq < this.durableSeq) {
      const start = this.sentSeq + 1 - this.ackedSeq - 1;
      const count = Math.min(
        frameSize(this.pending, start, this.options.maxEventsPerFrame),
        this.durableSeq - this.sentSeq,
      );
      const events = this.pending.slice(start, start + count);
      ws.send(eventsFrameText(events));
      this.sentSeq = events[events.length - 1]!.seq;
      this.inFlight.push(this.sentSeq);
    }
  }

  private ping(ws: WebSocket): void {
    if (Date.now() - this.lastHeardAt > 2 * this.pingIntervalMs) {
      // Silent for two intervals: a half-open connection. 'close' follows and reconnects.
      this.options.onNotice?.('ingest socket silent; reconnecting');
      ws.terminate();
      return;
    }
    if (ws.readyState === WebSocket.OPEN) ws.send(PING_FRAME);
  }

  private dropSocket(code?: number, reason?: string): void {
    clearInterval(this.pingTimer);
    this.socket = null;
    this.inFlight = [];
    const ws = this.current;
    if (code === undefined || !ws) return;
    this.current = null;
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    else ws.terminate();
  }

  private fail(error: Error): void {
    if (this.failure || this.closed) return;
    this.failure = error;
    this.abort.abort();
    this.dropSocket(1000, 'producer failed');
    this.rejectWaiters(error);
  }

  private rejectWaiters(error: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
