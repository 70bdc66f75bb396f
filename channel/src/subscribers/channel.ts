import {
  type ErrorCode,
  MAX_BAD_FRAMES,
  MAX_CLIENT_FRAMES_PER_SECOND,
  MAX_FRAME_BYTES,
  type PresenceView,
  parseFrame,
  type Viewer,
} from '@kiln/protocol';
import type { z } from 'zod';
import { type CatchUpSource, catchUp } from '../catch-up';
import { Fanout } from '../fanout';
import { closeQuietly, type Peer, sendQuietly } from '../peer';
import { TokenBucket } from '../rate-limit';
import { errorFrame } from '../session/ingest-frames';
import { budgetRefusal, type CatchUpBudget, mayCatchUp, spend } from './catch-up-budget';
import { commonFrame } from './outgoing';
import { PresenceBroadcaster, PresenceRoster } from './presence';

/** What the channel keeps in a subscriber socket's attachment (it survives hibernation). */
export interface SubscriberRecord {
  viewerId: string;
  displayName: string;
  /** ms epoch when it connected. */
  since: number;
  /** True once `hello` was answered: from then on it receives every live batch. */
  ready: boolean;
  badFrames: number;
  /** What catch-ups this socket may still ask for (`hello`), in bytes. */
  catchUpBudget?: CatchUpBudget;
}

/** The viewer a subscriber shows as in presence. */
function viewerOf(record: SubscriberRecord): Viewer {
  return { viewerId: record.viewerId, displayName: record.displayName, since: record.since };
}

/** The `lagging` error's text (PROTOCOL.md §2, flow control). */
const LAGGING_MESSAGE =
  'you are reading slower than the session streams; a snapshot follows when you catch up';

/** Where a channel's presence comes from. */
export type PresenceSource =
  /** Viewers are counted here: this object's sockets plus what `reportViewers` adds (shards). */
  | {
      kind: 'roster';
      /** Adds what else is known after a wake (a session: its shards' stored viewers). */
      restore?(roster: PresenceRoster): void;
      /** Passes each changed view on (a session: to its viewer shards). */
      forward?(view: PresenceView): void;
    }
  /**
   * Viewers are counted elsewhere (a viewer shard: by its session). The object reports its
   * `viewers()` after a `hello` that joined and after `gone`, and shows the view it gets back
   * with `showPresence`.
   */
  | { kind: 'remote' };

export interface SubscriberChannelOptions<S extends Peer, E extends { seq: number }, St, A> {
  /** How the object keeps each socket's record (workerd: serialize/deserializeAttachment). */
  attachments: { get(socket: S): A; set(socket: S, attachment: A): void };
  /** Every subscriber socket the object holds; the ready ones are found among them on wake. */
  sockets(): Iterable<S>;
  source: CatchUpSource<E, St>;
  /** The direction's `snapshot` frame (`sessionSnapshotFrame`, `projectSnapshotFrame`). */
  snapshotFrame(seq: number, state: St): string;
  /** Whether a batch goes out at once rather than at the end of the flush window. */
  urgent(events: readonly E[]): boolean;
  /** A lagging socket caught up: send it a snapshot at head and return that seq (`resync`). */
  resync(socket: S): number;
  /** Removes what viewers may not see from live events (checkpoint state). */
  redact?(event: E): E;
  /** Passes each flushed batch on elsewhere too (a session: its viewer shards). */
  forward?(events: E[]): void;
  presence: PresenceSource;
  now?: () => number;
}

/**
 * The subscriber side of every channel — a session, a viewer shard, a project (PROTOCOL.md §2,
 * §8): frames are refused at the boundary (size, rate, schema; fatal past `MAX_BAD_FRAMES`), a
 * `hello` is caught up within its byte budget, then the socket receives every live batch once,
 * in order, with ack flow control, and presence as diffs. The object hands every socket event
 * here and owns only the runtime glue (tldraw's sync room is the model). Sockets are opaque
 * `S`; what must survive hibernation is in the record the object attaches to each.
 */
export class SubscriberChannel<
  S extends Peer,
  E extends { seq: number },
  St,
  A extends SubscriberRecord = SubscriberRecord,
> {
  readonly fanout: Fanout<S, E>;
  readonly presence: PresenceBroadcaster<S>;
  /** Sockets that said `hello`; null until first needed after a (re)start, then rebuilt. */
  private readySockets: Set<S> | null = null;
  private rosterCache: PresenceRoster | null = null;
  /** The last view a remote presence source sent (`showPresence`). */
  private remoteView: PresenceView | undefined;
  private readonly buckets = new WeakMap<S, TokenBucket>();
  private readonly now: () => number;

  constructor(private readonly options: SubscriberChannelOptions<S, E, St, A>) {
    this.now = options.now ?? Date.now;
    this.fanout = new Fanout<S, E>(
      {
        subscribers: () => this.ready(),
        count: () => this.ready().size,
        send: sendQuietly,
        redact: options.redact ?? ((event) => event),
        urgent: options.urgent,
        lagging: (socket) => this.error(socket, 'lagging', LAGGING_MESSAGE),
        resync: options.resync,
        ...(options.forward ? { forward: options.forward } : {}),
      },
      this.now,
    );
    const source = options.presence;
    this.presence = new PresenceBroadcaster<S>(
      {
        subscribers: () => this.ready(),
        count: () => this.ready().size,
        view: () => (source.kind === 'roster' ? this.roster().view() : this.remoteView),
        ...(source.kind === 'roster' && source.forward ? { forward: source.forward } : {}),
      },
      this.now,
    );
  }

  /**
   * Reads a subscriber's frame: JSON text of at most `MAX_FRAME_BYTES`, at most
   * `MAX_CLIENT_FRAMES_PER_SECOND` (burst twice that), valid under `schema`. A refused frame is
   * answered with `error` and counted; undefined comes back.
   */
  read<F>(socket: S, message: string | ArrayBuffer, schema: z.ZodType<F>): F | undefined {
    if (typeof message !== 'string') {
      this.refuse(socket, 'bad-frame', 'frames must be JSON text');
      return undefined;
    }
    // A UTF-16 code unit is at most 3 UTF-8 bytes; only count when it could matter.
    const bytes =
      message.length * 3 <= MAX_FRAME_BYTES
        ? message.length
        : new TextEncoder().encode(message).length;
    if (bytes > MAX_FRAME_BYTES) {
      this.refuse(socket, 'frame-too-large', `frames are limited to ${MAX_FRAME_BYTES} bytes`);
      return undefined;
    }
    let bucket = this.buckets.get(socket);
    if (!bucket) {
      const rate = MAX_CLIENT_FRAMES_PER_SECOND;
      bucket = new TokenBucket(rate, rate * 2, this.now());
      this.buckets.set(socket, bucket);
    }
    if (!bucket.take(1, this.now())) {
      this.refuse(
        socket,
        'rate-limited',
        `at most ${MAX_CLIENT_FRAMES_PER_SECOND} frames per second`,
      );
      return undefined;
    }
    const parsed = parseFrame(schema, message);
    if (!parsed.ok) {
      this.refuse(socket, 'bad-frame', parsed.message);
      return undefined;
    }
    return parsed.frame;
  }

  /**
   * Refuses a frame: answered with `error` (nothing of it applied); the socket's
   * `MAX_BAD_FRAMES + 1`th refusal is fatal and closes it with 1008.
   */
  refuse(socket: S, code: ErrorCode, message: string): void {
    const record = this.options.attachments.get(socket);
    const badFrames = record.badFrames + 1;
    if (badFrames > MAX_BAD_FRAMES) {
      sendQuietly(socket, commonFrame(errorFrame(code, `${message}; too many bad frames`, true)));
      closeQuietly(socket, 1008, 'too many bad frames');
      return;
    }
    this.options.attachments.set(socket, { ...record, badFrames });
    this.error(socket, code, message);
  }

  /** Sends a non-fatal `error` frame. */
  error(socket: S, code: ErrorCode, message: string): void {
    sendQuietly(socket, commonFrame(errorFrame(code, message, false)));
  }

  pong(socket: S): void {
    sendQuietly(socket, commonFrame({ type: 'pong' }));
  }

  /**
   * `hello {lastSeq}`: within the socket's catch-up budget, sends what it lacks (events or a
   * snapshot), then it receives every live batch. On its first hello it joins presence and is
   * sent the whole view. Returns whether this hello made it a viewer (its first one answered).
   */
  async hello(socket: S, lastSeq: number): Promise<boolean> {
    const budget = mayCatchUp(this.options.attachments.get(socket).catchUpBudget, this.now());
    if (!budget.allowed) {
      this.error(socket, 'rate-limited', budgetRefusal(budget.budget));
      return false;
    }
    let sent = 0;
    const seq = await catchUp(lastSeq, this.options.source, {
      frame: (text) => {
        sent += text.length;
        sendQuietly(socket, text);
      },
      snapshot: this.options.snapshotFrame,
      aheadOfHead: (last, head) =>
        commonFrame(
          errorFrame(
            'ahead-of-head',
            `lastSeq ${last} is past head ${head}; replacing your state with a snapshot`,
            false,
          ),
        ),
    });
    this.fanout.markSent(socket, seq);
    // Read again: the record may have changed while an asynchronous source was read.
    const record = this.options.attachments.get(socket);
    this.options.attachments.set(socket, {
      ...record,
      ready: true,
      catchUpBudget: spend(budget.budget, sent),
    });
    if (record.ready) return false;
    this.ready().add(socket);
    if (this.options.presence.kind === 'remote') {
      this.presence.welcome(socket);
    } else {
      this.roster().join('', viewerOf(record));
      this.presence.changed(socket);
    }
    return true;
  }

  /** `ack {seq}`: flow control (PROTOCOL.md §2). */
  ack(socket: S, seq: number): void {
    this.fanout.ack(socket, seq);
  }

  /** Queues committed events for every ready socket (at once when `urgent`). */
  publish(events: readonly E[]): void {
    this.fanout.publish(events);
  }

  /** Sends `socket` a snapshot (a lagging socket's resync). */
  sendSnapshot(socket: S, seq: number, state: St): void {
    sendQuietly(socket, this.options.snapshotFrame(seq, state));
    this.fanout.markSent(socket, seq);
  }

  /** A socket closed, failed or was closed by the object: it leaves the fan-out and presence. */
  gone(socket: S): void {
    const wasReady = this.ready().delete(socket);
    this.fanout.forget(socket);
    this.presence.forget(socket);
    if (!wasReady || this.options.presence.kind === 'remote') return;
    this.roster().leave('', this.options.attachments.get(socket).viewerId);
    this.presence.changed();
  }

  /** A remote presence source's view (a shard's session): shown to every ready socket. */
  showPresence(view: PresenceView, welcome?: S): void {
    this.remoteView = view;
    this.presence.changed(welcome);
  }

  /** Replaces what presence source `source` (a viewer shard) reported; returns the new view. */
  reportViewers(source: string, viewers: readonly Viewer[]): PresenceView {
    const roster = this.roster();
    roster.replace(source, viewers);
    this.presence.changed();
    return roster.view();
  }

  /** The sockets receiving live batches. */
  ready(): Set<S> {
    if (!this.readySockets) {
      this.readySockets = new Set(
        [...this.options.sockets()].filter((s) => this.options.attachments.get(s).ready),
      );
    }
    return this.readySockets;
  }

  /** The viewers of this object's own ready sockets (a shard reports them to its session). */
  viewers(): Viewer[] {
    return [...this.ready()].map((s) => viewerOf(this.options.attachments.get(s)));
  }

  private roster(): PresenceRoster {
    if (!this.rosterCache) {
      const roster = new PresenceRoster();
      for (const viewer of this.viewers()) roster.join('', viewer);
      const source = this.options.presence;
      if (source.kind === 'roster') source.restore?.(roster);
      this.rosterCache = roster;
    }
    return this.rosterCache;
  }
}
