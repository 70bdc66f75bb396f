import {
  applyPresence,
  NO_PRESENCE,
  PRESENCE_LIST_LIMIT,
  type PresenceView,
  presenceDiffFrame,
  presenceFrame,
} from '@kiln/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { channelOver, type FakeSocket } from './harness';
import { diffPresence, PresenceRoster } from './presence';

/** What a client that folded every presence frame `socket` received would show. */
function shown(socket: FakeSocket): PresenceView {
  let view = NO_PRESENCE;
  for (const frame of socket.frames()) {
    if (frame.type === 'presence') view = applyPresence(view, presenceFrame.parse(frame));
    if (frame.type === 'presence-diff') view = applyPresence(view, presenceDiffFrame.parse(frame));
  }
  return view;
}

const ids = (view: PresenceView) => view.viewers.map((v) => v.viewerId);
const hello = JSON.stringify({ type: 'hello', lastSeq: 0 });

describe('presence', () => {
  let now = 1_000_000;
  beforeEach(() => {
    vi.useFakeTimers();
    now = 1_000_000;
  });
  afterEach(() => vi.useRealTimers());
  const advance = (ms: number) => {
    now += ms;
    vi.advanceTimersByTime(ms);
  };

  it('a new subscriber gets the whole view once; later joins and leaves reach it as diffs', async () => {
    const room = channelOver([], () => now);
    const a = room.connect('a');
    await room.receive(a, hello);
    expect(a.frames()).toMatchObject([{ type: 'presence', count: 1 }]);
    advance(100);
    const b = room.connect('b');
    await room.receive(b, hello);
    expect(a.frames().at(-1)).toMatchObject({
      type: 'presence-diff',
      joined: [{ viewerId: 'b' }],
      left: [],
      count: 2,
    });
    expect(b.frames().filter((f) => f.type.startsWith('presence'))).toMatchObject([
      { type: 'presence', count: 2 },
    ]);
    advance(100);
    room.close(b);
    expect(a.frames().at(-1)).toEqual({ type: 'presence-diff', joined: [], left: ['b'], count: 1 });
    expect(ids(shown(a))).toEqual(['a']);
  });

  it('a second hello (a resync after a gap) does not join twice', async () => {
    const room = channelOver([], () => now);
    const a = room.connect('a');
    await room.receive(a, hello);
    advance(100);
    await room.receive(a, hello);
    advance(100);
    expect(a.frames().filter((f) => f.type.startsWith('presence'))).toHaveLength(1);
    expect(shown(a).count).toBe(1);
  });

  it('coalesces the joins and leaves of one flush window into one diff', async () => {
    const room = channelOver([], () => now);
    const a = room.connect('a');
    await room.receive(a, hello);
    const b = room.connect('b');
    await room.receive(b, hello); // within the window of a's join: waits
    const c = room.connect('c');
    await room.receive(c, hello);
    room.close(b);
    advance(100);
    const after = a.frames().slice(1);
    expect(after).toEqual([
      {
        type: 'presence-diff',
        joined: [{ viewerId: 'c', displayName: 'Person c', since: 0 }],
        left: [],
        count: 2,
      },
    ]);
    expect(ids(shown(c))).toEqual(['a', 'c']);
  });

  it(`past ${PRESENCE_LIST_LIMIT} viewers a join sends only the count; a listed viewer leaving lets the next one in`, async () => {
    const room = channelOver([], () => now);
    const sockets: FakeSocket[] = [];
    for (let i = 0; i < PRESENCE_LIST_LIMIT + 5; i++) {
      const s = room.connect(`v${i}`);
      await room.receive(s, hello);
      sockets.push(s);
      advance(100);
    }
    const first = sockets[0]!;
    expect(first.frames().at(-1)).toEqual({
      type: 'presence-diff',
      joined: [],
      left: [],
      count: PRESENCE_LIST_LIMIT + 5,
    });
    room.close(sockets[3]!);
    expect(first.frames().at(-1)).toMatchObject({
      joined: [{ viewerId: `v${PRESENCE_LIST_LIMIT}` }],
      left: ['v3'],
      count: PRESENCE_LIST_LIMIT + 4,
    });
    const view = shown(first);
    expect(view.viewers).toHaveLength(PRESENCE_LIST_LIMIT);
    expect(ids(view)).not.toContain('v3');
    // Every subscriber, whenever it joined, shows the same view.
    expect(shown(sockets.at(-1)!)).toEqual(view);
  });

  it('after a restart (nothing known of what was told) the first change sends everyone the whole view', async () => {
    const room = channelOver([], () => now);
    const a = room.connect('a');
    await room.receive(a, hello);
    advance(100);
    // A woken object: the same sockets and attachments, a fresh channel.
    const woken = channelOver([], () => now);
    const a2 = woken.connect('a');
    a2.record = a.record;
    const b = woken.connect('b');
    await woken.receive(b, hello);
    expect(a2.frames()).toMatchObject([{ type: 'presence', count: 2 }]);
    expect(ids(shown(b))).toEqual(['a', 'b']);
  });

  it('on a shard (presence counted by its session) a joiner waits for the session view, then follows it as diffs', async () => {
    const shard = channelOver([], () => now, { kind: 'remote' });
    const a = shard.connect('a');
    expect(await shard.receive(a, hello)).toBe(true); // the shard reports its viewers now
    expect(await shard.receive(a, hello)).toBe(false);
    expect(shard.channel.viewers().map((v) => v.viewerId)).toEqual(['a']);
    expect(a.frames().filter((f) => f.type.startsWith('presence'))).toEqual([]);
    const session = new PresenceRoster();
    session.join('', { viewerId: 'direct', displayName: 'D', since: 0 });
    session.replace('shard:0', shard.channel.viewers());
    shard.channel.showPresence(session.view());
    expect(ids(shown(a))).toEqual(['direct', 'a']);
    advance(100);
    session.leave('', 'direct');
    shard.channel.showPresence(session.view());
    expect(a.frames().at(-1)).toEqual({
      type: 'presence-diff',
      joined: [],
      left: ['direct'],
      count: 1,
    });
  });

  it('a roster fed by shard reports merges their viewers and drops those a report no longer has', () => {
    const roster = new PresenceRoster();
    const v = (id: string) => ({ viewerId: id, displayName: id, since: 0 });
    roster.join('', v('a'));
    roster.replace('shard:0', [v('b'), v('c')]);
    roster.replace('shard:0', [v('c'), v('d')]);
    expect(ids(roster.view())).toEqual(['a', 'c', 'd']);
    expect(diffPresence(roster.view(), roster.view())).toBeUndefined();
  });

  it('presence bytes one subscriber receives grow linearly while 1,000 others join', async () => {
    /** Presence characters the first subscriber receives while `n` others join one by one. */
    async function presenceBytes(n: number): Promise<{ diffs: number; fullLists: number }> {
      const room = channelOver([], () => now);
      const first = room.connect('first');
      await room.receive(first, hello);
      let fullLists = first.bytesOf('presence');
      const everyone = [first];
      for (let i = 0; i < n; i++) {
        advance(1000); // each join in a window of its own: no coalescing helps
        const s = room.connect(`viewer-${String(i).padStart(4, '0')}`, now);
        await room.receive(s, hello);
        everyone.push(s);
        // What the old protocol sent on every join: the whole list to everyone.
        fullLists += JSON.stringify({
          type: 'presence',
          viewers: everyone.map((x) => ({
            viewerId: x.record.viewerId,
            displayName: x.record.displayName,
            since: x.record.since,
          })),
        }).length;
      }
      expect(shown(first).count).toBe(n + 1);
      return { diffs: first.bytesOf('presence', 'presence-diff'), fullLists };
    }
    const at100 = await presenceBytes(100);
    const at1000 = await presenceBytes(1000);
    console.info(
      `presence bytes to one subscriber: 100 joins ${at100.diffs} (full lists: ${at100.fullLists}), ` +
        `1,000 joins ${at1000.diffs} (full lists: ${at1000.fullLists})`,
    );
    // Linear: ten times the joins cost at most ten times the bytes (quadratic would be 100×).
    expect(at1000.diffs).toBeLessThanOrEqual(10 * at100.diffs);
    // And each join costs a bounded frame: at most 150 bytes on average.
    expect(at1000.diffs / 1000).toBeLessThan(150);
    expect(at1000.fullLists).toBeGreaterThan(100 * at1000.diffs);
  });
});
