import { ReconnectingSocket } from '../lib/reconnecting-socket';

/**
 * The part of a reconnecting WebSocket the session store uses. `ReconnectingSocket`
 * (lib/reconnecting-socket.ts) fits it; tests pass a fake.
 */
export interface SessionSocket {
  send(data: string): void;
  /** Closes for good: no more reconnects. */
  close(code?: number, reason?: string): void;
  /** Drops the current connection (if any) and connects again at once, resetting the backoff. */
  reconnect(): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'close', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  /** Optional: tells when the next reconnect attempt is due (ms epoch), after each loss. */
  onRetry?(listener: (at: number) => void): void;
}

/** Makes the socket for one session; `url` is called on every (re)connect. */
export type SocketFactory = (url: () => string) => SessionSocket;

/** The session socket URL on the current origin (`ws:` or `wss:` to match the page). */
export function sessionSocketUrl(sessionId: string, location: Location = window.location): string {
  const protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${protocol}//${location.host}/api/sessions/${encodeURIComponent(sessionId)}/ws`;
}

/**
 * A reconnecting WebSocket with jittered exponential backoff capped at 30 s that reports its next
 * attempt (for the "reconnecting in N s" banner). It queues nothing: the store owns its queue.
 */
export const createReconnectingSocket: SocketFactory = (url) => new ReconnectingSocket(url);
