import { afterEach, describe, expect, it, vi } from 'vitest';
import { ACK_EVERY_EVENTS, PROTOCOL_VERSION } from './limits';
import { applyProjectEvent, createProjectState, type ProjectEvent } from './project';
import { applyEvent, createSessionState } from './reducer';
import { ACK_DELAY_MS, ResumeLink, ResumingSubscriber } from './resume';
import { committed, sampleBodies, seqRange, stateFrom } from './testing';

/** A seq-only channel: the state records which seqs were applied, in order. */
interface Seqs {
  headSeq: number;
  applied: number[];
}
const seqReducer = (state: Seqs, event: { seq: number }): Seqs => ({
  headSeq: event.seq,
  applied: [...state.applied, event.seq],
});
const seqs = (from: number, to: number) => seqRange(from, to).map((seq) => ({ seq }));
const ready = (headSeq: number) =>
  ({ type: 'ready', headSeq, protocolVersion: PROTOCOL_VERSION }) as const;
const events = (from: number, to: number) => ({ type: 'events', events: seqs(from, to) }) as const;

function subscriber(headSeq = 0) {
  return new ResumingSubscriber<{ seq: number }, Seqs>({ headSeq, applied: [] }, seqReducer);
}

describe('ResumingSubscriber', () => {
  it('says hello from its head on ready and applies contiguous events until caught up', () => {
    const sub = subscriber(3);
    expect(sub.ready).toBe(false);
    const first = sub.receive(ready(6));
    expect(first.send).toEqual([{ type: 'hello', lastSeq: 3 }]);
    expect(first).toMatchObject({ changed: false, caughtUp: false });
    const partial = sub.receive(events(4, 5));
    expect(partial).toMatchObject({ changed: true, caughtUp: false, send: [] });
    const rest = sub.receive(events(6, 7));
    expect(rest.caughtUp).toBe(true);
    expect(sub.receive(events(8, 8)).caughtUp).toBe(false); // once per connection
    expect(sub.state.applied).toEqual([4, 5, 6, 7, 8]);
    expect(sub.caughtUp).toBe(true);
  });

  it('is caught up at ready when it already holds the head', () => {
    const sub = subscriber(0);
    expect(sub.receive(ready(0))).toMatchObject({ caughtUp: true, changed: false });
  });

  it('skips and counts events at or below its head', () => {
    const sub = subscriber(0);
    sub.receive(ready(5));
    sub.receive(events(1, 3));
    const step = sub.receive(events(2, 5));
    expect(sub.state.applied).toEqual([1, 2, 3, 4, 5]);
    expect(sub.duplicates).toBe(2);
    expect(step.changed).toBe(true);
    expect(sub.receive(events(4, 5)).changed).toBe(false);
    expect(sub.duplicates).toBe(4);
  });

  it('on a gap keeps what applied, says hello from there once, and resumes from the answer', () => {
    const sub = subscriber(0);
    sub.receive(ready(0));
    const gap = sub.receive({ type: 'events', events: [{ seq: 1 }, { seq: 2 }, { seq: 4 }] });
    expect(gap.send).toEqual([{ type: 'hello', lastSeq: 2 }]);
    expect(gap.state.applied).toEqual([1, 2]);
    // Live batches racing the answer gap again at the same head: no second hello.
    expect(sub.receive(events(5, 6)).send).toEqual([]);
    expect(sub.gaps).toBe(2);
    // The answer fills the gap; live events go on.
    sub.receive(events(3, 6));
    sub.receive(events(7, 7));
    expect(sub.state.applied).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // A later gap at a new head asks again.
    expect(sub.receive(events(9, 9)).send).toEqual([{ type: 'hello', lastSeq: 7 }]);
  });

  it('takes a snapshot whole, wherever it stood', () => {
    const sub = subscriber(2);
    sub.receive(ready(20_000));
    const step = sub.receive({
      type: 'snapshot',
      seq: 20_000,
      state: { headSeq: 20_000, applied: [] },
    });
    expect(step).toMatchObject({ changed: true, caughtUp: true });
    expect(sub.state.headSeq).toBe(20_000);
    sub.receive(events(20_001, 20_001));
    expect(sub.state.applied).toEqual([20_001]);
  });

  it('acks every ACK_EVERY_EVENTS applied events at once, and owes an ack for fewer', () => {
    const sub = subscriber(10);
    sub.receive(ready(10 + 2 * ACK_EVERY_EVENTS));
    expect(sub.ackPending).toBe(false);
    expect(sub.receive(events(11, 20)).send).toEqual([]);
    expect(sub.ackPending).toBe(true);
    const batch = sub.receive(events(21, 10 + ACK_EVERY_EVENTS));
    expect(batch.send).toEqual([{ type: 'ack', seq: 10 + ACK_EVERY_EVENTS }]);
    expect(sub.ackPending).toBe(false);
    expect(sub.flushAck()).toBeNull();
    sub.receive(events(11 + ACK_EVERY_EVENTS, 13 + ACK_EVERY_EVENTS));
    expect(sub.flushAck()).toEqual({ type: 'ack', seq: 13 + ACK_EVERY_EVENTS });
    expect(sub.flushAck()).toBeNull();
  });

  it('acks what it has at once when told it is lagging (the snapshot waits for that ack)', () => {
    const sub = subscriber(0);
    sub.receive(ready(0));
    sub.receive(events(1, 7));
    const step = sub.receive({ type: 'error', code: 'lagging', fatal: false });
    expect(step.send).toEqual([{ type: 'ack', seq: 7 }]);
    expect(sub.receive({ type: 'error', code: 'lagging', fatal: false }).send).toEqual([]);
  });

  it('after a reconnect sends nothing before ready, then resumes from the head it holds', () => {
    const sub = subscriber(0);
    sub.receive(ready(4));
    sub.receive(events(1, 4));
    sub.disconnected();
    expect(sub.ready).toBe(false);
    expect(sub.ackPending).toBe(false);
    expect(sub.flushAck()).toBeNull();
    const step = sub.receive(ready(9));
    expect(step.send).toEqual([{ type: 'hello', lastSeq: 4 }]);
    // The hello counts as the ack of everything up to its lastSeq.
    expect(sub.ackPending).toBe(false);
    sub.receive(events(5, 9));
    expect(sub.state.applied).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sub.duplicates).toBe(0);
  });

  it('refuses a server of another protocol version', () => {
    const sub = subscriber(0);
    const step = sub.receive({ type: 'ready', headSeq: 0, protocolVersion: PROTOCOL_VERSION + 1 });
    expect(step.incompatible).toMatch(/protocol/);
    expect(step.send).toEqual([]);
    expect(sub.ready).toBe(false);
  });

  it('ignores presence, presence diffs and pong', () => {
    const sub = subscriber(0);
    sub.receive(ready(1));
    expect(sub.receive({ type: 'presence' })).toMatchObject({ send: [], changed: false });
    expect(sub.receive({ type: 'presence-diff' })).toMatchObject({ send: [], changed: false });
    expect(sub.receive({ type: 'pong' })).toMatchObject({ send: [], changed: false });
  });

  it('runs the session reducer: a resumed subscriber ends in the state of one that saw it all', () => {
    const all = committed(sampleBodies());
    const sub = new ResumingSubscriber(createSessionState('s1', 'p1'), applyEvent);
    sub.receive({ type: 'ready', headSeq: all.length, protocolVersion: PROTOCOL_VERSION });
    sub.receive({ type: 'events', events: all.slice(0, 4) });
    sub.disconnected();
    sub.receive({ type: 'ready', headSeq: all.length, protocolVersion: PROTOCOL_VERSION });
    // The server's answer overlaps what it had (the second socket raced the first).
    sub.receive({ type: 'events', events: all.slice(2) });
    expect(sub.state).toEqual(stateFrom(sampleBodies()));
    expect(sub.duplicates).toBe(2);
  });

  it('runs the project reducer, and a bad project event is not mistaken for a gap', () => {
    const sub = new ResumingSubscriber(createProjectState('p1'), applyProjectEvent);
    sub.receive({ type: 'ready', headSeq: 2, protocolVersion: PROTOCOL_VERSION });
    const renamed: ProjectEvent[] = [
      { seq: 1, at: 1, type: 'project-renamed', name: 'One' },
      { seq: 2, at: 2, type: 'project-renamed', name: 'Two' },
    ];
    expect(sub.receive({ type: 'events', events: renamed })).toMatchObject({ caughtUp: true });
    expect(sub.state.name).toBe('Two');
    const broken = new ResumingSubscriber(createProjectState('p1'), () => {
      throw new TypeError('reducer bug');
    });
    broken.receive({ type: 'ready', headSeq: 1, protocolVersion: PROTOCOL_VERSION });
    expect(() => broken.receive({ type: 'events', events: renamed })).toThrow('reducer bug');
  });
});

describe('ResumeLink', () => {
  afterEach(() => vi.useRealTimers());

  it('sends each step’s frames, and the owed ack within ACK_DELAY_MS', () => {
    vi.useFakeTimers();
    const sent: unknown[] = [];
    const link = new ResumeLink(subscriber(0), (frame) => sent.push(frame));
    link.receive(ready(3));
    link.receive(events(1, 3));
    expect(sent).toEqual([{ type: 'hello', lastSeq: 0 }]);
    vi.advanceTimersByTime(ACK_DELAY_MS - 1);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([
      { type: 'hello', lastSeq: 0 },
      { type: 'ack', seq: 3 },
    ]);
    vi.advanceTimersByTime(10 * ACK_DELAY_MS);
    expect(sent).toHaveLength(2);
  });

  it('drops the owed ack when the connection goes', () => {
    vi.useFakeTimers();
    const sent: unknown[] = [];
    const link = new ResumeLink(subscriber(0), (frame) => sent.push(frame));
    link.receive(ready(3));
    link.receive(events(1, 3));
    link.disconnected();
    vi.advanceTimersByTime(10 * ACK_DELAY_MS);
    expect(sent).toEqual([{ type: 'hello', lastSeq: 0 }]);
  });
});
