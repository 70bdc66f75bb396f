import type { Probe } from '../probe';

/** One system under test, started once for the whole run. */
export interface System {
  name: string;
  /** A fresh stream (Kiln session, relay room, Durable Stream, chat agent). */
  open(): Promise<Channel>;
  /** Resident memory of the serving process, bytes (0 when unknown). */
  rss(): number;
  stop(): Promise<void>;
}

interface Produced {
  /** ms from the first send to the last acknowledgement (durably accepted where it applies). */
  ms: number;
  events: number;
}

export interface Channel {
  /** Sends `count` marked events at `rate`/s (0 = full speed); resolves once all are accepted. */
  produce(count: number, rate: number): Promise<Produced>;
  /**
   * Connects a subscriber feeding `probe`. `missed` > 0: it resumes as one that has every event
   * but the last `missed` (its own resume protocol). Resolves once it is connected and subscribed.
   */
  subscribe(probe: Probe, missed?: number): Promise<{ close(): void }>;
  /**
   * After `produce`: a subscriber that has every event but the last `missed` reconnects with the
   * system's resume protocol. Resolves when it is caught up.
   */
  resume?(missed: number): Promise<Resumed>;
  /** After a cold restart of the server: ms until a client has the whole session. */
  hydrate?(): Promise<number>;
}

interface Resumed {
  ms: number;
  /** Events (or chunks) received. */
  received: number;
  /** Events the client already had, or got twice. */
  duplicates: number;
  /** How it caught up (events, snapshot, full replay…). */
  how: string;
}
