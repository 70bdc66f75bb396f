/**
 * The one thing the channel core needs of a socket: send a text frame, close it. A workerd
 * `WebSocket`, a `ws` socket in Node and the tests' fake sockets all fit.
 */
export interface Peer {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** Sends a frame; a socket that closed meanwhile is skipped. */
export function sendQuietly(peer: Peer, text: string): void {
  try {
    peer.send(text);
  } catch {
    // The socket closed between the check and the send; its close handler cleans up.
  }
}

/** Closes a socket; one already closed is left alone. */
export function closeQuietly(peer: Peer, code: number, reason: string): void {
  try {
    peer.close(code, reason);
  } catch {
    // Already closed: nothing left to do.
  }
}

/**
 * What every object does when the runtime reports a socket closed (`code`) or failed (`'error'`):
 * completes the closing handshake. 1005 (no status) and 1006 (abnormal) cannot be sent back, so
 * they are answered with 1000; an error is answered with 1011.
 */
export function answerClose(peer: Peer, code: number | 'error'): void {
  if (code === 'error') closeQuietly(peer, 1011, 'socket error');
  else closeQuietly(peer, code === 1005 || code === 1006 ? 1000 : code, 'closed');
}
