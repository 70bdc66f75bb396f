import type { IngestServerFrame, SessionEvent } from '@kiln/protocol';
import type { SessionStore } from './session-store';

/** What an ingest socket carries through hibernation (the object may add fields of its own). */
export interface IngestAttachment {
  role: 'ingest';
  /** Who connected (`user:<id>`, `runner:<id>`): must be the build's lease holder. */
  principal: string;
  /** Set by an accepted `hello`. */
  buildId?: string;
  epoch?: number;
  badFrames: number;
}

/** The object's ingest sockets, as the room sees them (workerd: `getWebSockets('ingest')`). */
export interface IngestSockets<S, A extends IngestAttachment> {
  all(): Iterable<S>;
  attachment(socket: S): A;
  setAttachment(socket: S, attachment: A): void;
  /** When the runtime last answered a ping on the socket by itself (ms epoch), if it did. */
  lastPingAt(socket: S): number | undefined;
}

/** What the object must do after the room handled something; applied in order. */
export type RoomEffect<S> =
  | { kind: 'send'; socket: S; frame: IngestServerFrame }
  | { kind: 'close'; socket: S; code: number; reason: string }
  /** Events were committed: fan them out to the subscribers. */
  | { kind: 'publish'; events: SessionEvent[] }
  /** Move the one platform alarm to `at` (ms epoch). */
  | { kind: 'alarm'; at: number };

/** A result and the effects that go with it. */
export interface Step<S, T = undefined> {
  value: T;
  effects: RoomEffect<S>[];
}

/** Lifecycle durations in ms (the protocol's constants unless the environment overrides them). */
export interface RoomTiming {
  leaseMs: number;
  graceMs: number;
  interruptGraceMs: number;
  stuckMs: number;
}

export interface SessionRoomOptions<S, A extends IngestAttachment> {
  store: SessionStore;
  sockets: IngestSockets<S, A>;
  timing: RoomTiming;
  /** ms epoch; tests pass a fake clock. */
  clock?: () => number;
  newBuildId?: () => string;
  snapshotEvery?: number;
  writeThroughDelayMs?: number;
}
