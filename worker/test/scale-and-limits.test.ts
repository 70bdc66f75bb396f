import { env, evictDurableObject } from 'cloudflare:test';
import {
  LAG_LIMIT_EVENTS,
  MAX_BAD_FRAMES,
  MAX_CLIENT_FRAMES_PER_SECOND,
  MAX_FRAME_BYTES,
  REPLAY_LIMIT,
  REPLAY_ROUND_EVENTS,
} from '@kiln/protocol';
import { seqRange } from '@kiln/protocol/testing';
import { describe, expect, it } from 'vitest';
import {
  connect,
  connectProducer,
  logOf,
  openBuild,
  produce,
  renames,
  subscribe,
  type TestSocket,
} from './helpers';

function expectContiguous(events: { seq: number }[], from: number, to: number) {
  expect(events.map((e) => e.seq)).toEqual(seqRange(from, to));
}

describe('replay at scale', () => {
  it('replays 9,000 of 50,000 events in bounded rounds with no gap and no repeat while live events arrive, and sends a snapshot past REPLAY_LIMIT', async () => {
    const { account, sessionId, producer } = await openBuild();
    for (let i = 0; i < 50; i++) await produce(producer, i * 1000 + 1, renames(i * 1000, 1000));

    const behind = await subscribe(sessionId, account.token, 41_000);
    const far = await subscribe(sessionId, account.token, 0);
    // Live events while the replays are under way.
    for (let i = 50; i < 53; i++) await produce(producer, i * 1000 + 1, renames(i * 1000, 1000));
    await behind.waitFor(() => behind.events().length >= 12_000, '12,000 events');
    expectContiguous(behind.events(), 41_001, 53_000);
    for (const frame of behind.frames.filter((f) => f.type === 'events')) {
      const events = frame.events as { seq: number }[];
      // Catch-up rounds are bounded; live batches are as large as the producer's frames.
      if (events[0]!.seq <= 50_000) expect(events.length).toBeLessThanOrEqual(REPLAY_ROUND_EVENTS);
      expect(JSON.stringify(frame).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    }

    await far.waitFor(() => far.events().length >= 3000, 'live events after the snapshot');
    const [snapshot] = far.frames.filter((f) => f.type === 'snapshot');
    expect(50_000 - 0).toBeGreaterThan(REPLAY_LIMIT);
    expect(snapshot).toMatchObject({ seq: 50_000, state: { headSeq: 50_000, title: 't49999' } });
    expect(far.frames.findIndex((f) => f.type === 'snapshot')).toBeLessThan(
      far.frames.findIndex((f) => f.type === 'events'),
    );
    expectContiguous(far.events(), 50_001, 53_000);
  });
});

describe('hibernation', () => {
  it('an object evicted with its sockets hibernated serves every socket correctly when it wakes', async () => {
    const { account, sessionId, producer } = await openBuild();
    await produce(producer, 1, renames(0, 10));
    const a = await subscribe(sessionId, account.token, 0);
    const b = await subscribe(sessionId, account.token, 5);
    await a.waitFor(() => a.events().length === 10);
    await b.waitFor(() => b.events().length === 5);

    await evictDurableObject(env.SESSIONS.getByName(sessionId));

    // The producer's socket survived too: it continues where it was.
    await produce(producer, 11, renames(10, 5));
    await a.waitFor(() => a.events().length === 15, 'a after wake');
    await b.waitFor(() => b.events().length === 10, 'b after wake');
    expectContiguous(a.events(), 1, 15);
    expectContiguous(b.events(), 6, 15);
    // Pings are answered by the runtime whether or not the object is awake.
    a.send('{"type":"ping"}');
    await a.waitForType('pong');
    // A new subscriber after the wake still gets presence with everyone.
    const c = await subscribe(sessionId, account.token, 15);
    const presence = await c.waitForPresence(3);
    expect(presence.viewers).toHaveLength(3);
  });
});

describe('presence', () => {
  it('tells every watcher who is watching, and when someone leaves', async () => {
    const { account, sessionId } = await openBuild();
    const a = await subscribe(sessionId, account.token, 0);
    await a.waitForPresence(1);
    const b = await subscribe(sessionId, account.token, 0);
    const two = (await a.waitForPresence(2)).viewers;
    const [bReady] = b.frames.filter((f) => f.type === 'ready');
    expect(two.map((v) => v.viewerId)).toContain(bReady!.viewerId);
    expect(two.every((v) => v.displayName.startsWith('User ') && v.since > 0)).toBe(true);
    // The join reached a as a diff naming b, not as the whole list again.
    expect(a.frames.filter((f) => f.type === 'presence')).toHaveLength(1);
    expect(a.frames.find((f) => f.type === 'presence-diff')).toMatchObject({
      joined: [{ viewerId: bReady!.viewerId }],
      count: 2,
    });
    b.close();
    await a.waitForPresence(1);
    expect(a.frames.at(-1)).toMatchObject({ type: 'presence-diff', left: [bReady!.viewerId] });
  });

  it('a watcher is told of each of 30 joins by a frame of bounded size, not the whole list again', async () => {
    const { account, sessionId } = await openBuild();
    const first = await subscribe(sessionId, account.token, 0);
    await first.waitForPresence(1);
    const others: TestSocket[] = [];
    for (let i = 0; i < 30; i++) {
      const s = await subscribe(sessionId, account.token, 0);
      // One join at a time: each waits for the last to be told, so no window coalesces them.
      await first.waitForPresence(i + 2);
      others.push(s);
    }
    const presenceBytes = first.frames
      .filter((f) => f.type === 'presence' || f.type === 'presence-diff')
      .reduce((n, f) => n + JSON.stringify(f).length, 0);
    // 30 whole lists would be ~30 × 16 × 100 bytes; 30 diffs of one viewer stay under 200 each.
    expect(presenceBytes).toBeLessThan(31 * 200);
    expect(first.frames.filter((f) => f.type === 'presence')).toHaveLength(1);
    // Leaving is told the same way; waiting for it lets every close handler finish in the test.
    for (const s of others) s.close();
    await first.waitForPresence(1);
  });
});

describe('slow subscribers', () => {
  it('a subscriber whose acks fall too far behind is told it lags, then gets a snapshot once it acks what it was sent', async () => {
    const { account, sessionId, producer } = await openBuild();
    const slow = await subscribe(sessionId, account.token, 0);
    slow.send({ type: 'ack', seq: 0 });
    for (let i = 0; i < 7; i++) await produce(producer, i * 1000 + 1, renames(i * 1000, 1000));
    const [lagging] = await slow.waitForType('error');
    expect(lagging).toMatchObject({ code: 'lagging', fatal: false });
    const received = slow.events();
    // Never sent more than LAG_LIMIT_EVENTS past its last ack (0), and held back before the end.
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThanOrEqual(LAG_LIMIT_EVENTS);
    slow.send({ type: 'ack', seq: received.at(-1)!.seq });
    const [snapshot] = await slow.waitForType('snapshot');
    expect(snapshot).toMatchObject({ seq: 7000 });
    await produce(producer, 7001, renames(7000, 1));
    await slow.waitFor(() => slow.events().at(-1)?.seq === 7001, 'live again');
    expectContiguous(received, 1, received.length);
  });
});

describe('limits', () => {
  it('refuses a frame over MAX_FRAME_BYTES and an event over MAX_EVENT_BYTES, storing nothing', async () => {
    const { account, sessionId, producer } = await openBuild();
    producer.send({
      type: 'events',
      firstProducerSeq: 1,
      events: [{ type: 'session-renamed', title: 'x'.repeat(MAX_FRAME_BYTES) }],
    });
    producer.send({
      type: 'events',
      firstProducerSeq: 1,
      events: [
        {
          type: 'tool-input-available',
          toolCallId: 't',
          toolName: 'Write',
          input: { content: 'x'.repeat(300 * 1024) },
        },
      ],
    });
    const errors = await producer.waitForType('error', 2);
    expect(errors.map((e) => e.code)).toEqual(['frame-too-large', 'event-too-large']);
    expect(await logOf(sessionId, account.token)).toEqual([]);
  });

  it('rate-limits a subscriber that sends too many frames, stores none it refused, then closes it with 1008', async () => {
    const { account, sessionId } = await openBuild();
    // The bucket grants at most burst + rate × (time since it was made) frames. Its clock starts
    // at the subscriber's first hello, after `start`; so until the socket closes, the test keeps
    // more prompts sent than the bucket could grant by now plus the refusals that close it,
    // whatever the machine's speed: once the object has read them all, it must have refused
    // MAX_BAD_FRAMES + 1 of them.
    const start = Date.now();
    const s = await subscribe(sessionId, account.token, 0);
    const grantable = () => MAX_CLIENT_FRAMES_PER_SECOND * (2 + (Date.now() - start) / 1000);
    let sent = 0;
    while (s.closed === undefined) {
      while (sent <= grantable() + MAX_BAD_FRAMES + 1) {
        s.send({ type: 'send', clientMessageId: `m${sent}`, text: `prompt ${sent}` });
        sent++;
      }
      const seen = s.frames.length;
      await s.waitFor(() => s.frames.length > seen || s.closed !== undefined, 'an answer');
    }
    const bound = grantable();
    expect(s.closed?.code).toBe(1008);
    const errors = s.frames.filter((f) => f.type === 'error');
    expect(errors.some((f) => f.code === 'rate-limited' && f.fatal === false)).toBe(true);
    expect(errors.at(-1)).toMatchObject({ code: 'rate-limited', fatal: true });
    // Nothing refused is stored: only prompts the bucket granted are in the log.
    const stored = (await logOf(sessionId, account.token)).filter((e) => e.type === 'user-message');
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThanOrEqual(bound);
    expect(stored.length).toBeLessThanOrEqual(sent - errors.length);
  });
});

/** A deterministic PRNG (mulberry32) so a failing fuzz run can be replayed. */
function prng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A frame that is never valid: broken JSON, wrong types, missing fields, unknown types. */
function badFrame(random: () => number, role: 'ws' | 'ingest'): string {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!;
  const junk = () =>
    pick<unknown>([null, -1, 1.5, 'x', [], {}, true, 'a'.repeat(Math.floor(random() * 5000))]);
  const kinds = [
    () => pick(['', '{', 'null', '[]', '{"type":', 'nope', '\u0000', '{"type":"hello"}']),
    () =>
      JSON.stringify({
        type: pick(['hello', 'events', 'send', 'interrupt', 'ack', 'ready', 'zzz']),
        lastSeq: junk(),
        buildId: junk(),
      }),
    () => JSON.stringify({ type: 'hello', lastSeq: pick([-1, 1.5, 'x', null]) }),
    () =>
      JSON.stringify({
        type: 'events',
        firstProducerSeq: pick([0, -1, 'x', 1.5]),
        events: [{ type: 'text-delta', messageId: 'm', delta: 'x' }],
      }),
    () =>
      JSON.stringify({
        type: 'events',
        firstProducerSeq: 1,
        events: [
          {
            type: pick(['text-delta', 'user-message', 'session-status', 'nope']),
            messageId: junk(),
          },
        ],
      }),
    () => JSON.stringify({ type: 'send', clientMessageId: '', text: junk() }),
    () => JSON.stringify(junk()),
  ];
  const frame = pick(kinds)();
  return role === 'ws' && frame.includes('"events"') ? frame.replace('"events"', '"evnts"') : frame;
}

describe('fuzz', () => {
  it('thousands of random malformed frames on both sockets leave the log unchanged and the object serving', async () => {
    const { account, sessionId, buildId, producer } = await openBuild();
    await produce(producer, 1, renames(0, 20));
    const before = await logOf(sessionId, account.token);
    const random = prng(20261121);
    let sent = 0;
    // The build's lease (1.5 s in worker tests, then 1.5 s of grace) must outlive the fuzz, which
    // takes tens of seconds on a loaded machine, so its producer's hellos keep meaning "a leased
    // producer sends garbage". The test renews it itself at least every RENEW_MS, before a batch:
    // losing it would take one batch of 12 frames outlasting lease and grace together.
    const RENEW_MS = 500;
    let renewedAt = 0;
    while (sent < 2000) {
      if (Date.now() - renewedAt >= RENEW_MS) {
        const keeper = await connectProducer(account, sessionId, buildId, 1);
        expect(keeper.frames.at(-1)?.type, 'the lease was renewed').toBe('ready');
        keeper.close();
        renewedAt = Date.now();
      }
      const role = random() < 0.5 ? 'ws' : 'ingest';
      const socket = await connect(sessionId, role, account.token);
      if (role === 'ingest' && random() < 0.5)
        socket.send({ type: 'hello', buildId, producerEpoch: 1 });
      for (let i = 0; i < 12; i++, sent++) socket.send(badFrame(random, role));
      await socket.waitFor(
        () =>
          socket.closed !== undefined ||
          socket.frames.filter((f) => f.type === 'error').length >= 10,
        'refusals',
      );
      socket.close();
    }
    expect(await logOf(sessionId, account.token)).toEqual(before);
    // Still serving: a producer appends and a subscriber catches up.
    const fresh = await connectProducer(account, sessionId, buildId, 9);
    await produce(fresh, 21, renames(20, 1));
    const watcher = await subscribe(sessionId, account.token, 0);
    await watcher.waitFor(() => watcher.events().length === 21);
    expectContiguous(watcher.events(), 1, 21);
  });
});
