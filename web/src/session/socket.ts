import { WebSocket as ReconnectingWebSocket } from 'partysocket';

/**
 * The part of a reconnecting WebSocket the session store uses. partysocket's `WebSocket` fits it;
 * tests pass a fake.
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
}

/** Makes the socket for one session; `url` is called on every (re)connect. */
export type SocketFactory = (url: () => string) => SessionSocket;

/** The session socket URL on the current origin (`ws:` or `wss:` to match the page). */
export function sessionSocketUrl(sessionId: string, location: Location = window.location): string {
  const protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${protocol}//${location.host}/api/sessions/${encodeURIComponent(sessionId)}/ws`;
}

/** A partysocket WebSocket with a backoff suited to a person watching (0.5 s growing to 10 s). */
export const createPartySocket: SocketFactory = (url) =>
  new ReconnectingWebSocket(url, undefined, {
    minReconnectionDelay: 500,
    maxReconnectionDelay: 10_000,
    reconnectionDelayGrowFactor: 1.6,
    connectionTimeout: 8_000,
    // The store queues its own frames: nothing may reach the server before `hello`.
    maxEnqueuedMessages: 0,
  });
