import { MAX_FRAME_BYTES, type SessionEvent } from '@kiln/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { eventFrames, Fanout, flushWindowMs } from './fanout';

const delta = (seq: number): SessionEvent => ({
  seq,
  at: seq,
  type: 'text-delta',
  messageId: 'm',
  delta: `${seq}`,
});
const tool = (seq: number): SessionEvent => ({
  seq,
  at: seq,
  type: 'tool-input-available',
  toolCallId: `t${seq}`,
  toolName: 'Read',
  input: {},
});

function setup(subscribers = ['a', 'b']) {
  const sent = new Map<string, SessionEvent[][]>(subscribers.map((s) => [s, []]));
  let now = 1000;
  const fanout = new Fanout<string>(
    {
      subscribers: () => subscribers,
      send: (s, frame) =>
        sent.get(s)!.push((JSON.parse(frame) as { events: SessionEvent[] }).events),
      redact: (e) => e,
    },
    () => now,
  );
  return {
    fanout,
    sent,
    advance: (ms: number) => {
      now += ms;
      vi.advanceTimersByTime(ms);
    },
  };
}

describe('fan-out', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends the first event after a quiet window at once and batches the rest of the window into one frame', () => {
    const { fanout, sent, advance } = setup();
    fanout.publish([delta(1)]);
    expect(sent.get('a')).toEqual([[delta(1)]]);
    advance(2);
    fanout.publish([delta(2)]);
    advance(2);
    fanout.publish([delta(3)]);
    expect(sent.get('a')).toHaveLength(1);
    advance(16);
    expect(sent.get('a')).toEqual([[delta(1)], [delta(2), delta(3)]]);
    expect(sent.get('b')).toEqual(sent.get('a'));
  });

  it('flushes tool, todo and status events immediately, with whatever was pending before them', () => {
    const { fanout, sent, advance } = setup();
    fanout.publish([delta(1)]);
    advance(1);
    fanout.publish([delta(2)]);
    fanout.publish([tool(3)]);
    expect(sent.get('a')).toEqual([[delta(1)], [delta(2), tool(3)]]);
  });

  it('never sends a subscriber caught up mid-window an event it already has', () => {
    const { fanout, sent, advance } = setup();
    fanout.publish([delta(1)]);
    advance(1);
    fanout.publish([delta(2), delta(3)]);
    fanout.markSent('b', 2); // b's catch-up covered up to seq 2
    advance(20);
    expect(
      sent
        .get('a')!
        .flat()
        .map((e) => e.seq),
    ).toEqual([1, 2, 3]);
    expect(
      sent
        .get('b')!
        .flat()
        .map((e) => e.seq),
    ).toEqual([1, 3]);
  });

  it('widens the window with the audience so sends per second stay within the budget', () => {
    expect(flushWindowMs(1)).toBe(16);
    expect(flushWindowMs(100)).toBe(16);
    expect(flushWindowMs(1000)).toBe(125);
    for (const n of [1, 10, 100, 500, 1000, 5000]) {
      expect((n * 1000) / flushWindowMs(n)).toBeLessThanOrEqual(Math.max(8000, (n * 1000) / 16));
      if (n > 128) expect((n * 1000) / flushWindowMs(n)).toBeLessThanOrEqual(8000);
    }
  });
});

describe('eventFrames', () => {
  it('splits a batch into frames under MAX_FRAME_BYTES and the event cap, keeping order', () => {
    const big = (seq: number): SessionEvent => ({
      seq,
      at: seq,
      type: 'text-delta',
      messageId: 'm',
      delta: 'é'.repeat(100_000),
    });
    const frames = eventFrames([big(1), big(2), big(3), big(4), big(5)]);
    expect(frames.length).toBeGreaterThan(1);
    for (const frame of frames)
      expect(new TextEncoder().encode(frame).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(
      frames.flatMap((f) => (JSON.parse(f) as { events: SessionEvent[] }).events.map((e) => e.seq)),
    ).toEqual([1, 2, 3, 4, 5]);
    expect(
      eventFrames([delta(1), delta(2), delta(3)], 2).map((f) => JSON.parse(f).events.length),
    ).toEqual([2, 1]);
  });
});
