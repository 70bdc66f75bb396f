import {
  applyEvent,
  applyPresence,
  type ClientFrame,
  createSessionState,
  type ErrorFrame,
  NO_PRESENCE,
  PING_FRAME,
  type PresenceView,
  parseFrame,
  ResumeLink,
  ResumingSubscriber,
  type SessionEvent,
  type SessionServerFrame,
  type SessionState,
  sessionServerFrame,
} from '@kiln/protocol';
import {
  createReconnectingSocket,
  type SessionSocket,
  type SocketFactory,
  sessionSocketUrl,
} from './socket';

/**
 * A small external store per session (STYLE.md, React): fed by the session socket and the shared
 * reducer, read by components with `useSyncExternalStore` and selectors.
 *
 * Resume is the shared `ResumingSubscriber` (PROTOCOL.md §2): every (re)open waits for `ready`,
 * then says `hello {lastSeq: headSeq}`; events at or below `headSeq` are skipped, a seq gap says
 * `hello` again, acks go out as the protocol asks.
 */

/**
 * `static`: not connected on purpose (an ended session, loaded over HTTP) · `connecting`: the
 * first attempt · `live` · `reconnecting`: lost (or the first attempt failed), retrying with
 * backoff · `offline`: not trying (browser offline, or an error no retry can fix).
 */
type ConnectionStatus = 'static' | 'connecting' | 'live' | 'reconnecting' | 'offline';

/** A prompt the person sent that the log has not shown yet (no `user-message` with its id). */
export interface PendingSend {
  clientMessageId: string;
  text: string;
}

/** What components read. A new object whenever anything in it changes; parts are shared. */
export interface SessionSnapshot {
  state: SessionState;
  connection: ConnectionStatus;
  /** The last `error` frame, cleared when the connection is live again. */
  error: Pick<ErrorFrame, 'code' | 'message' | 'fatal'> | null;
  viewerId: string | null;
  /** Who watches (`presence` / `presence-diff` frames folded by `applyPresence`). */
  presence: PresenceView;
  pendingSends: readonly PendingSend[];
  /** When the next reconnect attempt is due (ms epoch) while `reconnecting`, else null. */
  retryAt: number | null;
  /** How many times a live connection was lost: one toast per loss, at most. */
  disconnects: number;
}

export interface SessionStoreOptions {
  sessionId: string;
  /** State to start from (e.g. from `GET /api/sessions/:id/state`); the socket resumes after it. */
  initialState?: SessionState;
  /** Defaults to a `ReconnectingSocket` on the current origin. */
  createSocket?: SocketFactory;
  url?: () => string;
  /** Interval of the application ping, ms (default 20 s). */
  pingIntervalMs?: number;
}

/** Error codes after which reconnecting cannot help. */
const TERMINAL_CODES = new Set<ErrorFrame['code']>(['unauthorized', 'forbidden', 'not-found']);

/** The live view of one session. Call `connect()` once, `dispose()` when done. */
export class SessionStore {
  private snapshot: SessionSnapshot;
  private readonly listeners = new Set<() => void>();
  private socket: SessionSocket | null = null;
  /** Resume and flow control (hello, gaps, acks); its state is `snapshot.state`. */
  private readonly resume: ResumeLink<SessionEvent, SessionState>;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private warnedInvalid = false;
  /** Pending prompts delivered over HTTP: shown, never sent on the socket. */
  private readonly tracked = new Set<string>();
  private disposed = false;
  private readonly options: SessionStoreOptions;

  constructor(options: SessionStoreOptions) {
    this.options = options;
    const state = options.initialState ?? createSessionState(options.sessionId, '');
    this.resume = new ResumeLink(new ResumingSubscriber(state, applyEvent), (frame) =>
      this.sendFrame(frame),
    );
    this.snapshot = {
      state,
      connection: 'static',
      error: null,
      viewerId: null,
      presence: NO_PRESENCE,
      pendingSends: [],
      retryAt: null,
      disconnects: 0,
    };
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The current snapshot (stable between changes, as `useSyncExternalStore` requires). */
  readonly getSnapshot = (): SessionSnapshot => this.snapshot;

  /** Opens the socket. Idempotent. */
  connect(): void {
    if (this.socket || this.disposed) return;
    this.update({ connection: 'connecting' });
    const create = this.options.createSocket ?? createReconnectingSocket;
    const url = this.options.url ?? (() => sessionSocketUrl(this.options.sessionId));
    const socket = create(url);
    this.socket = socket;
    socket.addEventListener('open', () => this.onOpen());
    socket.addEventListener('close', () => this.onClose());
    socket.addEventListener('message', (event) => this.onMessage(event.data));
    socket.onRetry?.((at) => {
      if (!this.disposed && this.snapshot.connection !== 'offline') this.update({ retryAt: at });
    });
    this.pingTimer = setInterval(() => {
      if (this.resume.subscriber.ready) this.socket?.send(PING_FRAME);
    }, this.options.pingIntervalMs ?? 20_000);
  }

  /** True once `connect()` has opened the socket (a static store has none). */
  get connected(): boolean {
    return this.socket !== null;
  }

  /** Reconnects now instead of waiting for the backoff (the "retry now" button). */
  retryNow(): void {
    if (this.disposed) return;
    if (!this.socket) {
      this.connect();
      return;
    }
    if (this.snapshot.connection === 'offline') this.update({ connection: 'reconnecting' });
    this.update({ error: null });
    this.socket.reconnect();
  }

  /** Marks the connection offline (browser went offline); `retryNow` or `online` resumes. */
  markOffline(): void {
    const { connection } = this.snapshot;
    if (connection !== 'live' && connection !== 'static') this.update({ connection: 'offline' });
  }

  /**
   * Sends a prompt. Queued until the socket is ready, and sent again after every resume until the
   * log shows a `user-message` with this `clientMessageId` (the server is idempotent on it).
   */
  send(clientMessageId: string, text: string): void {
    this.update({ pendingSends: [...this.snapshot.pendingSends, { clientMessageId, text }] });
    if (this.resume.subscriber.ready) this.sendFrame({ type: 'send', clientMessageId, text });
  }

  /**
   * Shows a prompt sent some other way (the HTTP messages route, which also starts its turn) as
   * pending until the log shows its `user-message`; nothing goes over the socket.
   */
  trackPending(clientMessageId: string, text: string): void {
    this.update({ pendingSends: [...this.snapshot.pendingSends, { clientMessageId, text }] });
    this.tracked.add(clientMessageId);
  }

  /** Forgets a tracked prompt whose delivery failed. */
  dropPending(clientMessageId: string): void {
    this.tracked.delete(clientMessageId);
    this.update({
      pendingSends: this.snapshot.pendingSends.filter((p) => p.clientMessageId !== clientMessageId),
    });
  }

  /** Asks the running turn to stop. Dropped when not connected: an interrupt must not linger. */
  interrupt(): void {
    if (this.resume.subscriber.ready) this.sendFrame({ type: 'interrupt' });
  }

  /** Closes the socket and stops every timer. */
  dispose(): void {
    this.disposed = true;
    clearInterval(this.pingTimer);
    this.resume.disconnected();
    this.socket?.close(1000, 'done');
    this.socket = null;
    this.update({ connection: 'offline' });
    this.listeners.clear();
  }

  // --- socket events ---

  private onOpen(): void {
    // Nothing may be sent before `ready`; the `hello` goes out when it arrives.
    this.resume.disconnected();
  }

  private onClose(): void {
    this.resume.disconnected();
    if (this.disposed || this.snapshot.connection === 'offline') return;
    // Lost, or the first attempt failed: the socket is backing off before the next try.
    const wasLive = this.snapshot.connection === 'live';
    this.update({
      connection: 'reconnecting',
      disconnects: this.snapshot.disconnects + (wasLive ? 1 : 0),
    });
  }

  private onMessage(data: unknown): void {
    const parsed =
      typeof data === 'string'
        ? parseFrame(sessionServerFrame, data)
        : { ok: false as const, message: 'binary frame' };
    if (parsed.ok) this.handleFrame(parsed.frame);
    else this.warnInvalid(parsed.message);
  }

  private handleFrame(frame: SessionServerFrame): void {
    switch (frame.type) {
      case 'ready': {
        const step = this.resume.receive(frame);
        if (step.incompatible) {
          this.stop({
            code: 'bad-frame',
            message: `${step.incompatible} Reload the page.`,
            fatal: true,
          });
          return;
        }
        for (const pending of this.snapshot.pendingSends) {
          if (!this.tracked.has(pending.clientMessageId))
            this.sendFrame({ type: 'send', ...pending });
        }
        this.update({
          connection: 'live',
          error: null,
          viewerId: frame.viewerId,
          retryAt: null,
        });
        return;
      }
      case 'snapshot':
      case 'events': {
        const { changed, state } = this.resume.receive(frame);
        if (changed) this.update({ state, pendingSends: this.unseenSends(state) });
        return;
      }
      case 'presence':
      case 'presence-diff':
        this.update({ presence: applyPresence(this.snapshot.presence, frame) });
        return;
      case 'error': {
        this.resume.receive(frame);
        const error = { code: frame.code, message: frame.message, fatal: frame.fatal };
        if (frame.fatal && TERMINAL_CODES.has(frame.code)) this.stop(error);
        else this.update({ error });
        return;
      }
      case 'pong':
        return;
      default: {
        const unknown: never = frame;
        this.warnInvalid(`unknown frame ${(unknown as { type: string }).type}`);
      }
    }
  }

  // --- helpers ---

  private sendFrame(frame: ClientFrame): void {
    this.socket?.send(JSON.stringify(frame));
  }

  /** Stops for good after an error no reconnect can fix. */
  private stop(error: SessionSnapshot['error']): void {
    clearInterval(this.pingTimer);
    this.resume.disconnected();
    this.socket?.close(1000, 'stopped');
    this.socket = null;
    this.update({ connection: 'offline', error });
  }

  private unseenSends(state: SessionState): readonly PendingSend[] {
    const pending = this.snapshot.pendingSends;
    if (pending.length === 0) return pending;
    const seen = new Set(state.messages.map((m) => m.clientMessageId));
    const rest = pending.filter((p) => !seen.has(p.clientMessageId));
    return rest.length === pending.length ? pending : rest;
  }

  private warnInvalid(message: string): void {
    if (this.warnedInvalid) return;
    this.warnedInvalid = true;
    console.warn(`kiln: ignoring invalid frames from the session socket (${message})`);
  }

  private update(patch: Partial<SessionSnapshot>): void {
    let changed = false;
    for (const key of Object.keys(patch) as (keyof SessionSnapshot)[]) {
      if (patch[key] !== this.snapshot[key]) changed = true;
    }
    if (!changed) return;
    this.snapshot = { ...this.snapshot, ...patch };
    for (const listener of this.listeners) listener();
  }
}
