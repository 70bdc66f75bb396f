import {
  AckScheduler,
  applyEvent,
  createSessionState,
  PING_FRAME,
  parseFrame,
  SeqGapError,
  type SessionEvent,
  type SessionServerFrame,
  type SessionState,
  sessionServerFrame,
} from '@kiln/protocol';
import { AbortError } from 'p-retry';
import WebSocket from 'ws';
import { ServerError } from '../net/errors';
import { keepConnected, openSocket } from '../net/socket';

/** Options of a `SessionSubscriber`. Times in ms. */
export interface SessionSubscriberOptions {
  /** ws(s) URL of `…/api/sessions/:id/ws`. */
  url: string;
  token: string;
  sessionId: string;
  /** Called after every frame that changed the state; `caughtUp` once it reached `ready.headSeq`. */
  onState: (state: SessionState, caughtUp: boolean) => void;
  /** Reconnects and refused frames, for a person to read. */
  onNotice?: (message: string) => void;
  pingIntervalMs?: number;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/**
 * Follows a session over its subscriber socket: `hello {lastSeq}` after each `ready`, snapshots
 * and event batches applied with the protocol reducer, `hello` again on a seq gap, and reconnects
 * (jittered backoff) that resume from the last seq it holds.
 */
export class SessionSubscriber {
  private state: SessionState | null = null;
  private headAtReady = 0;
  /** Flow control: tells the server how far this client has applied (PROTOCOL.md §2). */
  private acks: AckScheduler | undefined;
  private closed = false;
  private failure: Error | null = null;
  private readonly abort = new AbortController();
  private socket: WebSocket | null = null;
  /** Settles when the subscriber is closed (resolves) or fails for good (rejects). */
  readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (error: Error) => void };

  constructor(private readonly options: SessionSubscriberOptions) {
    this.done = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  /** The state as last applied (null before the first snapshot or event). */
  get current(): SessionState | null {
    return this.state;
  }

  start(): void {
    this.run().catch((error: unknown) =>
      this.fail(error instanceof Error ? error : new Error(String(error))),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.acks?.stop();
    this.abort.abort();
    this.socket?.close(1000);
    this.settle.resolve();
  }

  private async run(): Promise<void> {
    await keepConnected(
      async () => {
        const ws = await this.connect();
        return { closed: new Promise<void>((resolve) => ws.once('close', () => resolve())) };
      },
      {
        label: 'session socket',
        signal: this.abort.signal,
        active: () => !this.closed && !this.failure,
        minRetryDelayMs: this.options.minRetryDelayMs,
        maxRetryDelayMs: this.options.maxRetryDelayMs,
        onNotice: this.options.onNotice,
      },
    );
  }

  private async connect(): Promise<WebSocket> {
    const ws = await openSocket(this.options.url, this.options.token, (socket, text) => {
      const parsed = parseFrame(sessionServerFrame, text);
      if (!parsed.ok) {
        this.options.onNotice?.(`ignored a bad frame from the server: ${parsed.message}`);
        return;
      }
      if (!this.closed) this.onFrame(socket, parsed.frame);
    });
    if (this.closed) {
      ws.close(1000);
      throw new AbortError('the subscriber stopped');
    }
    this.socket = ws;
    const ping = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) ws.send(PING_FRAME);
    }, this.options.pingIntervalMs ?? 15_000);
    ping.unref();
    ws.on('close', () => clearInterval(ping));
    ws.on('error', (error) => {
      // 'close' follows every 'error'; reconnecting happens there.
      this.options.onNotice?.(`session socket error: ${error.message}`);
    });
    return ws;
  }

  private onFrame(ws: WebSocket, frame: SessionServerFrame): void {
    switch (frame.type) {
      case 'ready':
        this.headAtReady = frame.headSeq;
        this.hello(ws);
        if (frame.headSeq === 0) this.publish(this.state ?? this.empty());
        return;
      case 'snapshot':
        this.publish(frame.state);
        return;
      case 'events':
        this.onEvents(ws, frame.events);
        return;
      case 'error': {
        const error = new ServerError(`session error: ${frame.message}`, 0, frame.code);
        if (error.permanent) this.fail(error);
        else this.options.onNotice?.(error.message);
        return;
      }
      case 'presence':
      case 'pong':
        return;
    }
  }

  private onEvents(ws: WebSocket, events: readonly SessionEvent[]): void {
    let state = this.state ?? this.empty();
    try {
      for (const event of events) state = applyEvent(state, event);
    } catch (error) {
      if (!(error instanceof SeqGapError)) throw error;
      // Keep what applied, and ask again from there.
      this.options.onNotice?.(`${error.message}; resyncing`);
      this.publish(state);
      this.hello(ws);
      return;
    }
    this.publish(state);
  }

  private hello(ws: WebSocket): void {
    const lastSeq = this.state?.headSeq ?? 0;
    ws.send(JSON.stringify({ type: 'hello', lastSeq }));
    this.acks?.stop();
    this.acks = new AckScheduler((seq) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ack', seq }));
    });
    this.acks.reset(lastSeq);
  }

  private publish(state: SessionState): void {
    this.state = state;
    this.acks?.applied(state.headSeq);
    this.options.onState(state, state.headSeq >= this.headAtReady);
  }

  private empty(): SessionState {
    // projectId is not on the wire before a snapshot; the reducer does not need it.
    return createSessionState(this.options.sessionId, '');
  }

  private fail(error: Error): void {
    this.acks?.stop();
    if (this.failure || this.closed) return;
    this.failure = error;
    this.abort.abort();
    this.socket?.close(1000);
    this.settle.reject(error);
  }
}
