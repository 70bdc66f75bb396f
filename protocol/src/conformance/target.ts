import type { SessionEvent } from '../events';

/**
 * What the conformance suite needs from a server under test (`runConformanceTests`): fresh
 * sessions with one leased build, and sockets onto them. Runtime-free: a target wraps whatever
 * socket its runtime has (workerd's `WebSocket`, the `ws` package) in these few methods.
 */
export interface ConformanceTarget {
  /** Shown in the test names, e.g. `SessionDO (workerd)`. */
  name: string;
  /** What the target implements beyond the core contract; a `false` skips the test by name. */
  capabilities: ConformanceCapabilities;
  /** A new, empty session with one build leased to the caller. */
  session(): Promise<ConformanceSession>;
}

/**
 * Parts of PROTOCOL.md a target may declare it does not implement. Each one gates exactly the
 * tests named after it (`it.skipIf`), so a missing part shows as skipped, never as passed.
 */
export interface ConformanceCapabilities {
  /** §3: consecutive text/reasoning deltas of one message in one frame become one event. */
  coalescesDeltas: boolean;
  /** §3a: a `turn-finished` for a turn that is not running is dropped (and acked). */
  exactlyOnceTurnEnds: boolean;
  /** §2: `send` appends a `user-message` and `interrupt` asks the runner to stop. */
  clientCommands: boolean;
  /** §2: `ack {seq}` flow control (`lagging`, then a snapshot once caught up). */
  flowControl: boolean;
  /**
   * §2, viewer shards: a session holds this many subscriber sockets itself and hands later ones
   * to shards; the subscriber tests run a second time behind that many idle sockets.
   * `false` when the target has no shards.
   */
  shardThreshold: number | false;
}

/** One session on a target. */
export interface ConformanceSession {
  sessionId: string;
  /** The build leased when the session was made (PROTOCOL.md §3). */
  buildId: string;
  /** Opens `GET /api/sessions/:id/ws` as the build's owner; resolves once the socket is open. */
  openSubscriber(handlers: SocketHandlers): Promise<SocketSender>;
  /** Opens `GET /api/sessions/:id/ingest` as the build's owner; resolves once open. */
  openIngest(handlers: SocketHandlers): Promise<SocketSender>;
  /** Every committed event, in seq order, as the server stores it. */
  log(): Promise<SessionEvent[]>;
  /** Frees what the session holds (servers, sockets, as the target sees fit); after each test. */
  dispose(): Promise<void>;
}

/** Installed by the target on the socket before it can receive anything. */
export interface SocketHandlers {
  /** Every text frame, in arrival order. */
  onText(text: string): void;
  /** Once, when the socket closed (either side). */
  onClose(code: number, reason: string): void;
}

/** The sending half of an open socket. */
export interface SocketSender {
  send(text: string): void;
  close(): void;
}
