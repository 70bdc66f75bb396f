import {
  CATCH_UP_BURST_BYTES,
  LAG_LIMIT_EVENTS,
  MAX_BAD_FRAMES,
  MAX_CLIENT_FRAMES_PER_SECOND,
  MAX_FRAME_BYTES,
  REPLAY_LIMIT,
  REPLAY_ROUND_EVENTS,
} from '@kiln/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { channelOver, delta } from './harness';

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => delta(from + i));

describe('subscriber channel: catch-up and fan-out', () => {
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

  it('a subscriber that says hello at seq 2 receives 3…head once, then every live batch once, in order', async () => {
    const room = channelOver(range(1, 5), () => now);
    const a = room.connect('a');
    await room.receive(a, JSON.stringify({ type: 'hello', lastSeq: 2 }));
    room.append([delta(6)]);
    advance(5);
    room.append([delta(7)]);
    advance(100);
    expect(a.seqs()).toEqual([3, 4, 5, 6, 7]);
  });

  it('a socket that has not said hello receives no events', () => {
    const room = channelOver([], () => now);
    const a = room.connect('a');
    room.append([delta(1)]);
    advance(100);
    expect(a.seqs()).toEqual([]);
  });

  it('reads a long catch-up in bounded rounds and splits each round under the frame limit', async () => {
    const big = 'x'.repeat(200_000);
    const log = Array.from({ length: REPLAY_ROUND_EVENTS + 20 }, (_, i) =>
      delta(i + 1, i < 30 ? big : 'y'),
    );
    const room = channelOver(log, () => now);
    const a = room.connect('a');
    await room.receive(a, JSON.stringify({ type: 'hello', lastSeq: 0 }));
    expect(room.reads.every((r) => r.limit <= REPLAY_ROUND_EVENTS)).toBe(true);
    expect(room.reads.length).toBe(2);
    expect(a.seqs()).toEqual(log.map((e) => e.seq));
    const eventFrames = a.sent.filter((t) => t.startsWith('{"type":"events"'));
    expect(eventFrames.length).toBeGreaterThan(2);
    for (const text of eventFrames) {
      expect(new TextEncoder().encode(text).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    }
  });

  it('past REPLAY_LIMIT missing events it sends a snapshot at head instead', async () => {
    const room = channelOver(range(1, REPLAY_LIMIT + 2), () => now);
    const a = room.connect('a');
    await room.receive(a, JSON.stringify({ type: 'hello', lastSeq: 1 }));
    const types = a.frames().map((f) => f.type);
    expect(types.filter((t) => t !== 'presence')).toEqual(['snapshot']);
    expect(a.frames()[0]).toMatchObject({ seq: REPLAY_LIMIT + 2 });
    expect(room.reads).toEqual([]);
  });

  it('a subscriber ahead of head is told so and gets a snapshot', async () => {
    const room = channelOver(range(1, 3), () => now);
    const a = room.connect('a');
    await room.receive(a, JSON.stringify({ type: 'hello', lastSeq: 9 }));
    expect(a.frames().slice(0, 2)).toMatchObject([
      { type: 'error', code: 'ahead-of-head', fatal: false },
      { type: 'snapshot', seq: 3 },
    ]);
  });

  it('a subscriber caught up while a batch was pending gets only what lies past its catch-up', async () => {
    const room = channelOver([], () => now);
    const a = room.connect('a');
    await room.receive(a, JSON.stringify({ type: 'hello', lastSeq: 0 }));
    room.append([delta(1)]); // goes at once
    room.append([delta(2)]); // waits for the window
    const b = room.connect('b');
    await room.receive(b, JSON.stringify({ type: 'hello', lastSeq: 0 }));
    room.append([delta(3)]);
    advance(100);
    expect(a.seqs()).toEqual([1, 2, 3]);
    expect(b.seqs()).toEqual([1, 2, 3]);
  });

  it('holds a subscriber that stopped acking past LAG_LIMIT_EVENTS and resyncs it by snapshot once it acks', async () => {
    const room = channelOver([], () => now);
    const a = room.connect('a');
    await room.receive(a, JSON.stringify({ type: 'hello', lastSeq: 0 }));
    await room.receive(a, JSON.stringify({ type: 'ack', seq: 0 }));
    room.append([delta(1)]);
    advance(100);
    room.append(range(2, LAG_LIMIT_EVENTS + 2));
    advance(100);
    expect(a.frames().at(-1)).toMatchObject({ type: 'error', code: 'lagging' });
    room.append([delta(LAG_LIMIT_EVENTS + 3)]);
    advance(100);
    expect(a.seqs()).toEqual([1]);
    advance(1000);
    await room.receive(a, JSON.stringify({ type: 'ack', seq: 1 }));
    expect(a.frames().at(-1)).toMatchObject({ type: 'snapshot', seq: LAG_LIMIT_EVENTS + 3 });
    // A client acks the snapshot's jump at once (ResumingSubscriber: ACK_EVERY_EVENTS).
    await room.receive(a, JSON.stringify({ type: 'ack', seq: LAG_LIMIT_EVENTS + 3 }));
    room.append([delta(LAG_LIMIT_EVENTS + 4)]);
    advance(100);
    expect(a.seqs()).toEqual([1, LAG_LIMIT_EVENTS + 4]);
  });
});

describe('subscriber channel: refusal of bad frames', () => {
  let now = 1_000_000;
  beforeEach(() => {
    vi.useFakeTimers();
    now = 1_000_000;
  });
  afterEach(() => vi.useRealTimers());

  it('answers a frame that fails the schema with bad-frame and changes nothing', async () => {
    const room = channelOver(range(1, 3), () => now);
    const a = room.connect('a');
    await room.receive(a, JSON.stringify({ type: 'hello', lastSeq: -1 }));
    await room.receive(a, 'not json');
    await room.receive(a, new ArrayBuffer(4));
    expect(a.frames()).toMatchObject([
      { type: 'error', code: 'bad-frame', fatal: false },
      { type: 'error', code: 'bad-frame', message: 'frame is not valid JSON', fatal: false },
      { type: 'error', code: 'bad-frame', message: 'frames must be JSON text', fatal: false },
    ]);
    expect(a.record).toMatchObject({ ready: false, badFrames: 3 });
    expect(a.closed).toBeUndefined();
  });

  it('refuses a frame over MAX_FRAME_BYTES as frame-too-large', async () => {
    const room = channelOver([], () => now);
    const a = room.connect('a');
    await room.receive(a, `{"type":"ping","pad":"${'é'.repeat(MAX_FRAME_BYTES / 2)}"}`);
    expect(a.frames()).toMatchObject([{ type: 'error', code: 'frame-too-large' }]);
  });

  it(`closes a socket with 1008 at its ${MAX_BAD_FRAMES + 1}th bad frame`, async () => {
    const room = channelOver([], () => now);
    const a = room.connect('a');
    for (let i = 0; i <= MAX_BAD_FRAMES; i++) {
      now += 1000; // stay under the rate limit
      await room.receive(a, '{}');
    }
    expect(a.frames().at(-1)).toMatchObject({ type: 'error', fatal: true });
    expect(a.frames().filter((f) => f.type === 'error' && !f.fatal)).toHaveLength(MAX_BAD_FRAMES);
    expect(a.closed).toEqual({ code: 1008, reason: 'too many bad frames' });
  });

  it('rate-limits a subscriber past its burst of frames, and lets it through again later', async () => {
    const room = channelOver([], () => now);
    const a = room.connect('a');
    for (let i = 0; i < MAX_CLIENT_FRAMES_PER_SECOND * 2 + 1; i++) {
      await room.receive(a, '{"type":"ping"}');
    }
    expect(a.frames().filter((f) => f.type === 'pong')).toHaveLength(
      MAX_CLIENT_FRAMES_PER_SECOND * 2,
    );
    expect(a.frames().at(-1)).toMatchObject({ type: 'error', code: 'rate-limited' });
    now += 1000;
    await room.receive(a, '{"type":"ping"}');
    expect(a.frames().at(-1)).toEqual({ type: 'pong' });
  });

  it('refuses a hello once the catch-up byte budget is spent, and answers it again after the refill', async () => {
    const room = channelOver(range(1, 3), () => now);
    const a = room.connect('a');
    a.record = { ...a.record, catchUpBudget: { balance: -CATCH_UP_BURST_BYTES, at: now } };
    await room.receive(a, JSON.stringify({ type: 'hello', lastSeq: 0 }));
    expect(a.frames()).toMatchObject([{ type: 'error', code: 'rate-limited', fatal: false }]);
    expect(a.record.ready).toBe(false);
    now += 60_000;
    await room.receive(a, JSON.stringify({ type: 'hello', lastSeq: 0 }));
    expect(a.seqs()).toEqual([1, 2, 3]);
    expect(a.record.catchUpBudget!.balance).toBeLessThan(CATCH_UP_BURST_BYTES);
  });
});
