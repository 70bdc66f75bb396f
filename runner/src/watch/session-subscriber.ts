import {
  applyEvent,
  createSessionState,
  PING_FRAME,
  parseFrame,
  ResumeLink,
  ResumingSubscriber,
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
 * Follows a session over its subscriber socket, resuming with the shared `ResumingSubscriber`
 * (`hello {lastSeq}` after each `ready`, `hello` again on a seq gap, acks), and reconnects
 * (jittered backoff) that resume from the last seq it holds.
 */
export class SessionSubscriber {
  /** Resume state across connections; `send` goes to the socket of the moment. */
  private readonly resume: ResumeLink<SessionEvent, SessionState>;
  private closed = false;
  private failure: Error | null = null;
  private readonly abort = new AbortController();
  private socket: WebSocket | null = null;
  /** Settles when the subscriber is closed (resolves) or fails for good (rejects). */
  readonly done: Promise<void>;
  private settle!: { resolve: () => void; reject: (error: Error) => void };

  constructor(private readonly options: SessionSubscriberOptions) {
    // projectId is not on the wire before a snapshot; the reducer does not need it.
    const empty = createSessionState(options.sessionId, '');
    this.resume = new ResumeLink(new ResumingSubscriber(empty, applyEvent), (frame) => {
      if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
    });
    this.done = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  start(): void {
    this.run().catch((error: unknown) =>
      this.fail(error instanceof Error ? error : new Error(String(error))),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.resume.stop();
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
      this.socket = socket; // the resume link sends through the socket of the moment
      if (!this.closed) this.onFrame(parsed.frame);
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
    ws.on('close', () => {
      clearInterval(ping);
      if (this.socket === ws) this.resume.disconnected();
    });
    ws.on('error', (error) => {
      // 'close' follows every 'error'; reconnecting happens there.
      this.options.onNotice?.(`session socket error: ${error.message}`);
    });
    return ws;
  }

  private onFrame(frame: SessionServerFrame): void {
    if (frame.type === 'error') {
      const error = new ServerError(`session error: ${frame.message}`, 0, frame.code);
      if (error.permanent) this.fail(error);
      else this.options.onNotice?.(error.message);
    }
    const gaps = this.resume.subscriber.gaps;
    const step = this.resume.receive(frame);
    if (step.incompatible) this.fail(new Error(step.incompatible));
    if (this.resume.subscriber.gaps > gaps) this.options.onNotice?.('seq gap; resyncing');
    if (step.changed || step.caughtUp) {
      this.options.onState(step.state, this.resume.subscriber.caughtUp);
    }
  }

  private fail(error: Error): void {
    this.resume.stop();
    if (this.failure || this.closed) return;
    this.failure = error;
    this.abort.abort();
    this.socket?.close(1000);
    this.settle.reject(error);
  }
}
