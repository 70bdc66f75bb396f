import {
  PRESENCE_LIST_LIMIT,
  type PresenceDiffFrame,
  type PresenceView,
  type Viewer,
} from '@kiln/protocol';
import { flushWindowMs } from '../fanout';
import { type Peer, sendQuietly } from '../peer';
import { commonFrame } from './outgoing';

/**
 * Who watches a channel (PROTOCOL.md §2, presence), in the order they joined. Viewers come from
 * sources: the object's own sockets (source `''`) and, on a session, each viewer shard's report
 * (`shard:<index>`). Memory only; an object rebuilds it from its sockets' attachments on wake.
 */
export class PresenceRoster {
  /** Insertion order is join order. */
  private readonly viewers = new Map<string, Viewer>();
  private readonly sources = new Map<string, Set<string>>();

  join(source: string, viewer: Viewer): void {
    const ids = this.sources.get(source) ?? new Set<string>();
    this.sources.set(source, ids);
    ids.add(viewer.viewerId);
    if (!this.viewers.has(viewer.viewerId)) this.viewers.set(viewer.viewerId, viewer);
  }

  leave(source: string, viewerId: string): void {
    if (this.sources.get(source)?.delete(viewerId)) this.viewers.delete(viewerId);
  }

  /** Replaces everything `source` reported before with `viewers` (a shard's report). */
  replace(source: string, viewers: readonly Viewer[]): void {
    const ids = new Set(viewers.map((v) => v.viewerId));
    for (const id of this.sources.get(source) ?? []) if (!ids.has(id)) this.leave(source, id);
    for (const viewer of viewers) this.join(source, viewer);
  }

  /** The first `limit` viewers and the count: what subscribers are shown. O(limit). */
  view(limit = PRESENCE_LIST_LIMIT): PresenceView {
    const viewers: Viewer[] = [];
    for (const viewer of this.viewers.values()) {
      if (viewers.length >= limit) break;
      viewers.push(viewer);
    }
    return { viewers, count: this.viewers.size };
  }
}

/** The `presence-diff` from `before` to `after`, or undefined when nothing a client sees changed. */
export function diffPresence(
  before: PresenceView,
  after: PresenceView,
): PresenceDiffFrame | undefined {
  const had = new Set(before.viewers.map((v) => v.viewerId));
  const has = new Set(after.viewers.map((v) => v.viewerId));
  const joined = after.viewers.filter((v) => !had.has(v.viewerId));
  const left = before.viewers.filter((v) => !has.has(v.viewerId)).map((v) => v.viewerId);
  if (joined.length === 0 && left.length === 0 && before.count === after.count) return undefined;
  return { type: 'presence-diff', joined, left, count: after.count };
}

/** What the presence broadcaster needs from its channel. */
export interface PresenceTarget<S extends Peer> {
  /** Sockets that said `hello` (the ones told about presence). */
  subscribers(): Iterable<S>;
  /** How many of them (sets the flush window, as for events). */
  count(): number;
  /** The view to show now; undefined while unknown (a shard that has not heard from its session). */
  view(): PresenceView | undefined;
  /** Passes each changed view on (a session to its viewer shards). */
  forward?(view: PresenceView): void;
}

/**
 * Tells a channel's subscribers who watches, coalesced per flush window (the first change after a
 * quiet window goes at once, like events): a subscriber new to presence gets the whole view
 * (`presence`), everyone else one `presence-diff` from what they were last told. A join thus
 * costs each watcher one frame of bounded size — the joiner, or only the count once
 * `PRESENCE_LIST_LIMIT` are listed — instead of the whole list.
 *
 * What was last told lives in memory: after a wake it is unknown, and the first flush sends
 * everyone the whole view (at most `PRESENCE_LIST_LIMIT` viewers).
 */
export class PresenceBroadcaster<S extends Peer> {
  /** What every subscriber outside `fresh` was last told; undefined after a (re)start. */
  private told: PresenceView | undefined;
  /** Subscribers owed the whole view at the next flush. */
  private readonly fresh = new Set<S>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastFlushAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly target: PresenceTarget<S>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The view changed (or `welcome` just became a subscriber and is owed the whole view). */
  changed(welcome?: S): void {
    if (welcome) this.fresh.add(welcome);
    if (this.timer) return;
    const window = flushWindowMs(this.target.count());
    const since = this.now() - this.lastFlushAt;
    if (since >= window) this.flush();
    else this.timer = setTimeout(() => this.flush(), window - since);
  }

  /**
   * `socket` is owed the whole view at the next flush, without a change being scheduled (the view
   * it needs comes from elsewhere: a shard's session answers its report with `showPresence`).
   */
  welcome(socket: S): void {
    this.fresh.add(socket);
  }

  /** A socket went away: it is owed nothing. */
  forget(socket: S): void {
    this.fresh.delete(socket);
  }

  /** Sends what changed since the last flush, now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastFlushAt = this.now();
    const view = this.target.view();
    if (!view) return;
    let whole: string | undefined;
    const wholeView = () => {
      whole ??= commonFrame({ type: 'presence', viewers: [...view.viewers], count: view.count });
      return whole;
    };
    const diff = this.told && diffPresence(this.told, view);
    const frame = this.told ? diff && commonFrame(diff) : wholeView();
    for (const socket of this.target.subscribers()) {
      if (this.fresh.has(socket)) sendQuietly(socket, wholeView());
      else if (frame) sendQuietly(socket, frame);
    }
    this.fresh.clear();
    if (frame) this.target.forward?.(view);
    this.told = view;
  }
}
