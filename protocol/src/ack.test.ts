import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AckScheduler } from './ack';
import { ACK_EVERY_EVENTS } from './limits';

describe('AckScheduler', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('acks at once every ACK_EVERY_EVENTS events and otherwise within the delay', () => {
    const sent: number[] = [];
    const acks = new AckScheduler((seq) => sent.push(seq), 1000);
    acks.reset(10);
    acks.applied(20);
    expect(sent).toEqual([]);
    acks.applied(10 + ACK_EVERY_EVENTS);
    expect(sent).toEqual([10 + ACK_EVERY_EVENTS]);
    acks.applied(10 + ACK_EVERY_EVENTS + 3);
    vi.advanceTimersByTime(999);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([10 + ACK_EVERY_EVENTS, 13 + ACK_EVERY_EVENTS]);
    vi.advanceTimersByTime(5000);
    expect(sent).toHaveLength(2);
  });
});
