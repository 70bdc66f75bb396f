/**
 * What the channel core needs of a socket: send a text frame, close it. A workerd `WebSocket`
 * and the tests' fake sockets both fit.
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
