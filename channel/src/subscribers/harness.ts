import { clientFrame, type SessionEvent } from '@kiln/protocol';
import { isUrgent } from '../fanout';
import type { Peer } from '../peer';
import { type PresenceSource, SubscriberChannel, type SubscriberRecord } from './channel';

/**
 * Test support: fake sockets and a channel over an in-memory log, in plain Node (the workerd
 * objects run the same `SubscriberChannel` over real sockets).
 */

/** A socket that records what it was sent, as JSON text and parsed. */
export class FakeSocket implements Peer {
  readonly sent: string[] = [];
  closed: { code?: number; reason?: string } | undefined;
  record: SubscriberRecord;

  constructor(viewerId: string, since = 0) {
    this.record = {
      viewerId,
      displayName: `Person ${viewerId}`,
      since,
      ready: false,
      badFrames: 0,
    };
  }

  send(text: string): void {
    if (this.closed) throw new Error('socket is closed');
    this.sent.push(text);
  }

  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }

  /** Every frame received, parsed. */
  frames(): { type: string; [key: string]: unknown }[] {
    return this.sent.map((text) => JSON.parse(text));
  }

  /** The seqs of every event received, in order. */
  seqs(): number[] {
    return this.frames().flatMap((f) =>
      f.type === 'events' ? (f.events as { seq: number }[]).map((e) => e.seq) : [],
    );
  }

  /** Characters received in frames of these types. */
  bytesOf(...types: string[]): number {
    return this.sent
      .filter((text) => types.includes((JSON.parse(text) as { type: string }).type))
      .reduce((n, text) => n + text.length, 0);
  }
}

export const delta = (seq: number, text = `${seq}`): SessionEvent => ({
  seq,
  at: seq,
  type: 'text-delta',
  messageId: 'm',
  delta: text,
});

/** A session-like channel over `log` (its events are 1…n), with a `{headSeq}` state. */
export function channelOver(
  log: SessionEvent[],
  now: () => number = Date.now,
  presence: PresenceSource = { kind: 'roster' },
) {
  const sockets = new Set<FakeSocket>();
  const reads: { after: number; limit: number }[] = [];
  const channel = new SubscriberChannel<FakeSocket, SessionEvent, { headSeq: number }>({
    attachments: { get: (s) => s.record, set: (s, record) => (s.record = record) },
    sockets: () => sockets,
    source: {
      head: () => log.length,
      read: (after, limit) => {
        reads.push({ after, limit });
        return log.slice(after, after + limit);
      },
      snapshot: () => ({ seq: log.length, state: { headSeq: log.length } }),
    },
    snapshotFrame: (seq, state) => JSON.stringify({ type: 'snapshot', seq, state }),
    urgent: isUrgent,
    resync: (socket) => {
      channel.sendSnapshot(socket, log.length, { headSeq: log.length });
      return log.length;
    },
    presence,
    now,
  });
  return {
    channel,
    reads,
    /** A socket accepted by the object (not yet ready). */
    connect(viewerId: string, since = 0): FakeSocket {
      const socket = new FakeSocket(viewerId, since);
      sockets.add(socket);
      return socket;
    },
    /** Hands a raw client frame to the channel the way an object does; true when it joined. */
    async receive(socket: FakeSocket, raw: string | ArrayBuffer): Promise<boolean> {
      const frame = channel.read(socket, raw, clientFrame);
      if (frame?.type === 'ack') channel.ack(socket, frame.seq);
      if (frame?.type === 'ping') channel.pong(socket);
      return frame?.type === 'hello' ? channel.hello(socket, frame.lastSeq) : false;
    },
    /** Commits events to the log and publishes them. */
    append(events: SessionEvent[]): void {
      log.push(...events);
      channel.publish(events);
    },
    close(socket: FakeSocket): void {
      sockets.delete(socket);
      channel.gone(socket);
    },
  };
}
