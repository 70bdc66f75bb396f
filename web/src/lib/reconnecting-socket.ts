import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from './backoff';

type Listener<T> = (event: T) => void;

interface Listeners {
  open: Listener<void>[];
  close: Listener<void>[];
  message: Listener<{ data: unknown }>[];
  retry: Listener<{ at: number }>[];
}

export interface ReconnectingSocketOptions {
  backoff?: BackoffPolicy;
  /** A socket that has not opened within this long is dropped and retried, ms (default 8 s). */
  connectTimeoutMs?: number;
  /** Makes the underlying socket (tests pass a fake). */
  createWebSocket?: (url: string) => WebSocket;
}

/**
 * A WebSocket that reconnects with jittered exponential backoff capped at 30 s (`backoff.ts`), and
 * says when it will next try (`retry {at}`) so a banner can count down. Unlike partysocket it never
 * queues frames: the session store owns its queue, since nothing may reach the server before `hello`.
 * `url` is called on every attempt.
 */
export class ReconnectingSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly listeners: Listeners = { open: [], close: [], message: [], retry: [] };

  constructor(
    private readonly url: () => string,
    private readonly options: ReconnectingSocketOptions = {},
  ) {
    this.open();
  }

  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'close', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'retry', listener: (event: { at: number }) => void): void;
  addEventListener(type: keyof Listeners, listener: Listener<never>): void {
    (this.listeners[type] as Listener<never>[]).push(listener);
  }

  /** Calls `listener` with the due time (ms epoch) of every scheduled reconnect attempt. */
  onRetry(listener: (at: number) => void): void {
    this.listeners.retry.push(({ at }) => listener(at));
  }

  /** Sends on the open socket; dropped when not open (the caller resends after `open`). */
  send(data: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  /** Drops the current connection (if any) and connects at once, resetting the backoff. */
  reconnect(): void {
    if (this.closed) return;
    this.attempt = 0;
    clearTimeout(this.timer);
    const had = this.ws !== null;
    this.drop();
    if (had) for (const l of this.listeners.close) l();
    this.open();
  }

  /** Closes for good. */
  close(code = 1000, reason = ''): void {
    this.closed = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(code, reason);
  }

  /** True while a socket is open. */
  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  private open(): void {
    const create = this.options.createWebSocket ?? ((url: string) => new WebSocket(url));
    let ws: WebSocket;
    try {
      ws = create(this.url());
    } catch (error) {
      // A malformed URL cannot get better by retrying, but the page must not crash on it.
      console.warn('kiln: could not open a socket', error);
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    const timeout = setTimeout(() => {
      if (ws.readyState !== WebSocket.OPEN) this.lost(ws);
    }, this.options.connectTimeoutMs ?? 8_000);
    ws.addEventListener('open', () => {
      clearTimeout(timeout);
      if (this.ws !== ws) return;
      this.attempt = 0;
      for (const l of this.listeners.open) l();
    });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      for (const l of this.listeners.message) l({ data: event.data });
    });
    ws.addEventListener('close', () => {
      clearTimeout(timeout);
      this.lost(ws);
    });
  }

  private lost(ws: WebSocket): void {
    if (this.ws !== ws || this.closed) return;
    this.drop();
    for (const l of this.listeners.close) l();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    const delay = backoffDelay(this.attempt++, this.options.backoff ?? DEFAULT_BACKOFF);
    const at = Date.now() + delay;
    for (const l of this.listeners.retry) l({ at });
    this.timer = setTimeout(() => this.open(), delay);
  }

  private drop(): void {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState !== WebSocket.CLOSED) ws.close(4000, 'reconnecting');
  }
}
