import { LAG_LIMIT_EVENTS, MAX_FRAME_BYTES, type SessionEvent } from '@kiln/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { eventFrames, Fanout, flushWindowMs, isUrgent } from './fanout';

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
  const notices: string[] = [];
  let head = 0;
  let now = 1000;
  const fanout = new Fanout<string>(
    {
      subscribers: () => subscribers,
      count: () => subscribers.length,
      urgent: isUrgent,
      send: (s, frame) => {
        const events = (JSON.parse(frame) as { events: SessionEvent[] }).events;
        head = Math.max(head, ...events.map((e) => e.seq));
        sent.get(s)!.push(events);
      },
      redact: (e) => e,
      lagging: (s) => notices.push(`${s}:lagging`),
      resync: (s) => {
        notices.push(`${s}:snapshot@${head}`);
        return head;
      },
    },
    () => now,
  );
  return {
    fanout,
    sent,
    notices,
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

describe('slow subscribers', () => {
  it('holds back a subscriber that falls more than LAG_LIMIT_EVENTS behind its acks, then resyncs it by snapshot once it acks what it was sent', () => {
    const { fanout, sent, notices } = setup();
    let seq = 0;
    const batch = (n: number) => Array.from({ length: n }, () => tool(++seq));
    fanout.publish(batch(10));
    fanout.ack('a', 10);
    fanout.ack('b', 10);
    fanout.publish(batch(LAG_LIMIT_EVENTS)); // b still acks 10: exactly at the limit, not over
    fanout.ack('a', seq);
    expect(notices).toEqual([]);
    fanout.publish(batch(1)); // now b is LAG_LIMIT_EVENTS + 1 behind
    expect(notices).toEqual(['b:lagging']);
    const sentToB = sent.get('b')!.flat().length;
    expect(sentToB).toBe(10 + LAG_LIMIT_EVENTS);
    fanout.publish(batch(3));
    expect(sent.get('b')!.flat().length).toBe(sentToB); // nothing more while lagging
    expect(fanout.isLagging('b')).toBe(true);
    fanout.ack('b', 500); // partial: still held
    expect(notices).toEqual(['b:lagging']);
    fanout.ack('b', 10 + LAG_LIMIT_EVENTS); // everything it was sent
    expect(notices).toEqual(['b:lagging', `b:snapshot@${seq}`]);
    fanout.publish(batch(1));
    expect(sent.get('b')!.flat().at(-1)!.seq).toBe(seq);
    expect(
      sent
        .get('a')!
        .flat()
        .map((e) => e.seq),
    ).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
  });

  it('never holds back a subscriber that does not ack', () => {
    const { fanout, sent, notices } = setup(['a']);
    let seq = 0;
    for (let i = 0; i < 3; i++)
      fanout.publish(Array.from({ length: LAG_LIMIT_EVENTS }, () => tool(++seq)));
    expect(notices).toEqual([]);
    expect(sent.get('a')!.flat()).toHaveLength(seq);
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
