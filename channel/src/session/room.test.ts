import {
  type IngestFrame,
  type IngestServerFrame,
  MAX_BAD_FRAMES,
  MAX_FRAME_BYTES,
  type RunnerEventBody,
  type SessionEvent,
} from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { MemorySessionStore } from './memory-store';
import { SessionRoom } from './room';
import type { IngestAttachment, RoomEffect, Step } from './room-types';
import type { SessionStore } from './session-store';

/** A fake ingest socket: what it was sent, whether it was closed, when a ping was auto-answered. */
class FakeSocket {
  readonly sent: IngestServerFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  lastPingAt: number | undefined;
  constructor(public attachment: IngestAttachment) {}
  last(): IngestServerFrame | undefined {
    return this.sent.at(-1);
  }
}

const timing = { leaseMs: 1000, graceMs: 500, interruptGraceMs: 300, stuckMs: 10_000 };

function setup(options: { snapshotEvery?: number; store?: SessionStore } = {}) {
  const clock = { now: 1_000_000 };
  const store = options.store ?? new MemorySessionStore();
  const sockets = new Set<FakeSocket>();
  const published: SessionEvent[] = [];
  const alarms: number[] = [];
  let ids = 0;
  const room = new SessionRoom<FakeSocket, IngestAttachment>({
    store,
    timing,
    clock: () => clock.now,
    newBuildId: () => `b${++ids}`,
    ...(options.snapshotEvery ? { snapshotEvery: options.snapshotEvery } : {}),
    sockets: {
      all: () => [...sockets],
      attachment: (s) => s.attachment,
      setAttachment: (s, a) => {
        s.attachment = a;
      },
      lastPingAt: (s) => s.lastPingAt,
    },
  });
  /** Applies a step's effects as the SessionDO does; returns its value. */
  const run = <T>(step: Step<FakeSocket, T>): T => {
    for (const effect of step.effects as RoomEffect<FakeSocket>[]) {
      switch (effect.kind) {
        case 'send':
          effect.socket.sent.push(effect.frame);
          break;
        case 'close':
          effect.socket.closed = { code: effect.code, reason: effect.reason };
          sockets.delete(effect.socket);
          break;
        case 'publish':
          published.push(...effect.events);
          break;
        case 'alarm':
          alarms.push(effect.at);
          break;
      }
    }
    return step.value;
  };
  run(room.start(null, () => false));
  room.init('s1', 'p1');
  const connect = (principal = 'runner:r') => {
    const socket = new FakeSocket({ role: 'ingest', principal, badFrames: 0 });
    sockets.add(socket);
    return socket;
  };
  /** Hands a raw message to the room as the object does: read, then handle. */
  const message = (socket: FakeSocket, text: string | ArrayBuffer) => {
    const frame = run(room.readIngest(socket, text));
    if (frame) run(room.onIngestFrame(socket, frame));
  };
  const frame = (socket: FakeSocket, f: IngestFrame) => message(socket, JSON.stringify(f));
  const hello = (socket: FakeSocket, buildId: string, producerEpoch = 0) =>
    frame(socket, { type: 'hello', buildId, producerEpoch });
  const events = (socket: FakeSocket, firstProducerSeq: number, bodies: RunnerEventBody[]) =>
    frame(socket, { type: 'events', firstProducerSeq, events: bodies });
  const lease = (holder = 'runner:r') => run(room.leaseBuild(holder, 'demo', 'm')).buildId;
  /** A leased build with a producer that said hello. */
  const producing = (epoch = 0) => {
    const buildId = lease();
    const socket = connect();
    hello(socket, buildId, epoch);
    return { buildId, socket };
  };
  return {
    room,
    store,
    clock,
    run,
    connect,
    message,
    frame,
    hello,
    events,
    lease,
    producing,
    published,
    alarms,
  };
}

/** Tool calls: never merged, so one body is one stored event. */
const tools = (from: number, n: number): RunnerEventBody[] =>
  Array.from({ length: n }, (_, i) => ({
    type: 'tool-input-available',
    toolCallId: `t${from + i}`,
    toolName: 'Read',
    input: { i: from + i },
  }));
const started = (buildId: string, turnId = 'turn-1'): RunnerEventBody => ({
  type: 'turn-started',
  turnId,
  buildId,
  runnerId: 'r',
  agent: 'demo',
  model: 'm',
});
const ids = (events: readonly SessionEvent[]) =>
  events.map((e) => (e.type === 'tool-input-available' ? e.toolCallId : e.type));

describe('SessionRoom ingest', () => {
  it('commits frames in producer order with contiguous seqs, acks each, and publishes them', () => {
    const t = setup();
    const { buildId, socket } = t.producing();
    expect(socket.sent).toEqual([{ type: 'ready', ackedProducerSeq: 0 }]);
    t.events(socket, 1, tools(1, 3));
    t.events(socket, 4, tools(4, 2));
    expect(socket.sent.slice(1)).toEqual([
      { type: 'ack', producerSeq: 3 },
      { type: 'ack', producerSeq: 5 },
    ]);
    const log = t.store.log.read(0, 100);
    expect(log.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(ids(log)).toEqual(['t1', 't2', 't3', 't4', 't5']);
    expect(t.published).toEqual(log);
    expect(t.room.requireState().headSeq).toBe(5);
    expect(t.store.getBuild(buildId)?.ackedProducerSeq).toBe(5);
  });

  it('merges consecutive deltas of one message into one event, acked at the last producer seq', () => {
    const t = setup();
    const { socket } = t.producing();
    const delta = (d: string): RunnerEventBody => ({
      type: 'text-delta',
      messageId: 'm',
      delta: d,
    });
    t.events(socket, 1, [delta('a'), delta('b'), delta('c')]);
    expect(socket.last()).toEqual({ type: 'ack', producerSeq: 3 });
    expect(t.store.log.read(0, 10)).toMatchObject([{ seq: 1, type: 'text-delta', delta: 'abc' }]);
  });

  it('re-acks a duplicate frame without storing it, and stores only the new tail of an overlap', () => {
    const t = setup();
    const { socket } = t.producing();
    t.events(socket, 1, tools(1, 5));
    t.events(socket, 2, tools(2, 3));
    expect(socket.last()).toEqual({ type: 'ack', producerSeq: 5 });
    expect(t.store.log.head()).toBe(5);
    t.events(socket, 4, tools(4, 4));
    expect(socket.last()).toEqual({ type: 'ack', producerSeq: 7 });
    expect(ids(t.store.log.read(0, 100))).toEqual(['t1', 't2', 't3', 't4', 't5', 't6', 't7']);
  });

  it('refuses a frame past acked + 1 naming the expected seq, and stores nothing of it', () => {
    const t = setup();
    const { socket } = t.producing();
    t.events(socket, 1, tools(1, 2));
    t.events(socket, 5, tools(5, 2));
    expect(socket.last()).toEqual({
      type: 'error',
      code: 'producer-gap',
      message: 'expected producer seq 3, got 5',
      fatal: false,
      expectedProducerSeq: 3,
    });
    expect(socket.closed).toBeUndefined();
    expect(t.store.log.head()).toBe(2);
    t.events(socket, 3, tools(3, 4));
    expect(socket.last()).toEqual({ type: 'ack', producerSeq: 6 });
  });

  it('fences a lower epoch at hello, and an older connection when a newer one says hello', () => {
    const t = setup();
    const { buildId, socket: first } = t.producing(2);
    const stale = t.connect();
    t.hello(stale, buildId, 1);
    expect(stale.last()).toMatchObject({ type: 'error', code: 'stale-epoch', fatal: true });
    expect(stale.closed).toEqual({ code: 1008, reason: 'stale-epoch' });
    expect(first.closed).toBeUndefined();

    const next = t.connect();
    t.hello(next, buildId, 3);
    expect(next.last()).toEqual({ type: 'ready', ackedProducerSeq: 0 });
    expect(first.last()).toMatchObject({ type: 'error', code: 'stale-epoch', fatal: true });
    expect(first.closed?.code).toBe(1008);
    // A frame the fenced connection still gets through is refused, not stored.
    t.events(first, 1, tools(1, 1));
    expect(first.last()).toMatchObject({ code: 'stale-epoch', fatal: true });
    expect(t.store.log.head()).toBe(0);
    t.events(next, 1, tools(1, 1));
    expect(next.last()).toEqual({ type: 'ack', producerSeq: 1 });
  });

  it('refuses hello for a build that is unknown or leased to someone else', () => {
    const t = setup();
    const buildId = t.lease('runner:r');
    const intruder = t.connect('runner:other');
    t.hello(intruder, buildId);
    expect(intruder.last()).toMatchObject({ type: 'error', code: 'no-lease', fatal: true });
    const lost = t.connect();
    t.hello(lost, 'no-such-build');
    expect(lost.last()).toMatchObject({ code: 'no-lease', fatal: true });
    expect(t.store.getBuild(buildId)?.epoch).toBe(-1);
  });

  it('answers ping with pong', () => {
    const t = setup();
    const socket = t.connect();
    t.message(socket, '{"type":"ping"}');
    expect(socket.sent).toEqual([{ type: 'pong' }]);
  });
});

describe('SessionRoom refusals', () => {
  it('refuses bad frames with an error that changes nothing, and closes after too many', () => {
    const t = setup();
    const { buildId, socket } = t.producing();
    const before = t.store.getBuild(buildId);
    t.message(socket, new ArrayBuffer(4));
    expect(socket.last()).toMatchObject({ code: 'bad-frame', message: 'frames must be JSON text' });
    t.message(socket, 'not json');
    expect(socket.last()).toMatchObject({ code: 'bad-frame', fatal: false });
    t.message(socket, JSON.stringify({ type: 'events', firstProducerSeq: 0, events: [] }));
    expect(socket.last()).toMatchObject({ code: 'bad-frame', fatal: false });
    t.message(socket, 'x'.repeat(MAX_FRAME_BYTES + 1));
    expect(socket.last()).toMatchObject({ code: 'frame-too-large', fatal: false });
    // A valid frame whose events break a rule: a turn for another build.
    t.events(socket, 1, [started('another-build')]);
    expect(socket.last()).toMatchObject({ code: 'bad-frame', fatal: false });
    expect(t.store.log.head()).toBe(0);
    expect(t.store.getBuild(buildId)).toEqual(before);
    expect(socket.attachment.badFrames).toBe(5);
    for (let i = 5; i < MAX_BAD_FRAMES; i++) t.message(socket, 'not json');
    expect(socket.closed).toBeUndefined();
    t.message(socket, 'not json');
    expect(socket.last()).toMatchObject({ code: 'bad-frame', fatal: true });
    expect(socket.closed).toEqual({ code: 1008, reason: 'too many bad frames' });
  });

  it('refuses events before hello', () => {
    const t = setup();
    t.lease();
    const socket = t.connect();
    t.events(socket, 1, tools(1, 1));
    expect(socket.last()).toMatchObject({ code: 'bad-frame', message: 'send hello before events' });
    expect(t.store.log.head()).toBe(0);
  });

  it('a commit whose transaction fails leaves nothing half-stored, sends nothing, and can be retried', () => {
    const store = new MemorySessionStore();
    let failNextPut = false;
    const putBuild = store.putBuild.bind(store);
    store.putBuild = (build) => {
      if (failNextPut) {
        failNextPut = false;
        throw new Error('storage failed');
      }
      putBuild(build);
    };
    const t = setup({ store });
    const { buildId, socket } = t.producing();
    t.events(socket, 1, tools(1, 2));
    const sentBefore = socket.sent.length;
    const published = t.published.length;
    failNextPut = true;
    const frame = t.run(
      t.room.readIngest(
        socket,
        JSON.stringify({ type: 'events', firstProducerSeq: 3, events: tools(3, 3) }),
      ),
    );
    expect(() => t.room.onIngestFrame(socket, frame!)).toThrow('storage failed');
    expect(t.store.log.head()).toBe(2);
    expect(t.store.getBuild(buildId)?.ackedProducerSeq).toBe(2);
    expect(t.room.requireState().headSeq).toBe(2);
    expect(socket.sent).toHaveLength(sentBefore);
    expect(t.published).toHaveLength(published);
    // The producer resends after reconnecting; it is stored once.
    t.events(socket, 3, tools(3, 3));
    expect(socket.last()).toEqual({ type: 'ack', producerSeq: 5 });
    expect(ids(t.store.log.read(0, 10))).toEqual(['t1', 't2', 't3', 't4', 't5']);
  });
});

describe('SessionRoom import builds', () => {
  const recorded = (from: number, n: number, at: number) =>
    tools(from, n).map((body, i) => ({ ...body, recordedAt: at + i * 1000 }));

  it("commits an import build's events at their recordedAt, never storing it in the body", () => {
    const t = setup();
    const lease = t.run(t.room.leaseImportBuild('user:u', 'import', ''));
    expect(lease).toMatchObject({ buildId: 's1:import', ackedProducerSeq: 0 });
    const socket = t.connect('user:u');
    t.hello(socket, 's1:import');
    const events = [...recorded(1, 2, 5_000), ...tools(3, 1)];
    t.frame(socket, { type: 'events', firstProducerSeq: 1, events });
    expect(socket.last()).toEqual({ type: 'ack', producerSeq: 3 });
    const log = t.store.log.read(0, 10);
    // The one event without recordedAt is committed at the clock.
    expect(log.map((e) => e.at)).toEqual([5_000, 6_000, t.clock.now]);
    expect(log.every((e) => !('recordedAt' in e))).toBe(true);
  });

  it('refuses recordedAt on a normal build with bad-frame and stores nothing', () => {
    const t = setup();
    const { socket } = t.producing();
    t.frame(socket, { type: 'events', firstProducerSeq: 1, events: recorded(1, 2, 5_000) });
    expect(socket.last()).toMatchObject({
      type: 'error',
      code: 'bad-frame',
      message: 'recordedAt is only for import builds',
      fatal: false,
    });
    expect(t.store.log.head()).toBe(0);
    expect(socket.closed).toBeUndefined();
  });

  it('leases the one import build again whatever its status, keeping its acked seq; null for another holder', () => {
    const t = setup();
    t.run(t.room.leaseImportBuild('user:u', 'import', ''));
    const socket = t.connect('user:u');
    t.hello(socket, 's1:import');
    t.frame(socket, { type: 'events', firstProducerSeq: 1, events: recorded(1, 2, 5_000) });
    t.store.putBuild({ ...t.store.getBuild('s1:import')!, status: 'lost' });
    const again = t.run(t.room.leaseImportBuild('user:u', 'import', ''));
    expect(again).toMatchObject({ buildId: 's1:import', ackedProducerSeq: 2 });
    expect(t.store.getBuild('s1:import')?.status).toBe('leased');
    expect(t.run(t.room.leaseImportBuild('user:other', 'import', ''))).toBeNull();
  });
});

describe('SessionRoom lease lifecycle', () => {
  it('expires a silent lease, takes the producer back within grace, and renews on each frame', () => {
    const t = setup();
    const { buildId, socket } = t.producing();
    t.events(socket, 1, [started(buildId)]);
    t.clock.now += timing.leaseMs;
    t.run(t.room.tick());
    expect(t.store.getBuild(buildId)?.status).toBe('expired');
    // Back within the grace period: leased again, the turn still running.
    const back = t.connect();
    t.clock.now += timing.graceMs - 1;
    t.hello(back, buildId, 1);
    expect(back.last()).toEqual({ type: 'ready', ackedProducerSeq: 1 });
    expect(t.store.getBuild(buildId)).toMatchObject({ status: 'leased', epoch: 1 });
    t.events(back, 2, tools(2, 1));
    expect(t.store.getBuild(buildId)?.leaseExpiresAt).toBe(t.clock.now + timing.leaseMs);
    expect(t.room.requireState().turns[0]?.status).toBe('running');
  });

  it('renews a lease kept alive by auto-answered pings alone', () => {
    const t = setup();
    const { buildId, socket } = t.producing();
    t.clock.now += timing.leaseMs - 100;
    socket.lastPingAt = t.clock.now;
    t.clock.now += 100;
    t.run(t.room.tick());
    expect(t.store.getBuild(buildId)).toMatchObject({
      status: 'leased',
      leaseExpiresAt: socket.lastPingAt + timing.leaseMs,
    });
    expect(t.alarms.at(-1)).toBe(socket.lastPingAt + timing.leaseMs);
  });

  it('loses a build silent past its grace: its turn fails as runner-lost once, its socket closes', () => {
    const t = setup();
    const { buildId, socket } = t.producing();
    t.events(socket, 1, [started(buildId)]);
    t.clock.now += timing.leaseMs;
    t.run(t.room.tick());
    t.clock.now += timing.graceMs;
    t.run(t.room.tick());
    expect(t.store.getBuild(buildId)?.status).toBe('lost');
    expect(t.room.requireState().turns).toMatchObject([{ status: 'failed', error: 'runner-lost' }]);
    expect(socket.last()).toMatchObject({ code: 'no-lease', fatal: true });
    expect(socket.closed?.code).toBe(1008);
    const late = t.connect();
    t.hello(late, buildId, 5);
    expect(late.last()).toMatchObject({ code: 'no-lease', fatal: true });
    t.clock.now += timing.leaseMs * 10;
    t.run(t.room.tick());
    const finishes = t.store.log.read(0, 100).filter((e) => e.type === 'turn-finished');
    expect(finishes).toHaveLength(1);
  });

  it('points the one alarm at the earliest timer and says when the write-through is due', () => {
    const t = setup();
    const start = t.clock.now;
    const { socket } = t.producing();
    expect(t.alarms).toEqual([start + timing.leaseMs]);
    t.events(socket, 1, tools(1, 1));
    // The write-through (200 ms) comes before the renewed lease.
    expect(t.alarms).toEqual([start + timing.leaseMs, start + 200]);
    t.clock.now = start + 200;
    expect(t.run(t.room.tick())).toEqual({ writeThrough: true });
    expect(t.alarms.at(-1)).toBe(start + timing.leaseMs);
    t.run(t.room.retryWriteThrough(start + 400));
    expect(t.alarms.at(-1)).toBe(start + 400);
  });
});

describe('SessionRoom interrupt and session events', () => {
  it('tells producers to stop, and ends the turn itself when the grace period passes', () => {
    const t = setup();
    const { buildId, socket } = t.producing();
    expect(t.run(t.room.interrupt())).toBe('no turn is running');
    t.events(socket, 1, [started(buildId)]);
    expect(t.run(t.room.interrupt())).toBeUndefined();
    expect(socket.last()).toEqual({ type: 'command', command: { kind: 'interrupt' } });
    t.clock.now += timing.interruptGraceMs;
    t.run(t.room.tick());
    expect(t.room.requireState().turns[0]).toMatchObject({ status: 'interrupted' });
    // The runner's own late turn-finished is dropped: a turn ends once.
    t.events(socket, 2, [
      { type: 'turn-finished', turnId: 'turn-1', status: 'completed', durationMs: 1 },
    ]);
    expect(socket.last()).toEqual({ type: 'ack', producerSeq: 2 });
    const finishes = t.store.log.read(0, 100).filter((e) => e.type === 'turn-finished');
    expect(finishes).toHaveLength(1);
  });

  it("appends a person's message once per clientMessageId and passes it to the producers", () => {
    const t = setup();
    const { socket } = t.producing();
    const first = t.run(t.room.appendUserMessage('c1', 'hi', 'user:u'));
    expect(first).toEqual({ messageId: 'msg_c1', seq: 1, created: true });
    expect(socket.last()).toEqual({
      type: 'command',
      command: { kind: 'user-message', messageId: 'msg_c1', text: 'hi' },
    });
    expect(t.run(t.room.appendUserMessage('c1', 'hi', 'user:u'))).toEqual({
      ...first,
      created: false,
    });
    expect(t.store.log.head()).toBe(1);
  });
});

describe('SessionRoom snapshots', () => {
  it('stores a snapshot every N events and a restarted room loads the same state from it', () => {
    const t = setup({ snapshotEvery: 3 });
    const { socket } = t.producing();
    for (let i = 1; i <= 7; i++) t.events(socket, i, tools(i, 1));
    expect(t.store.log.snapshotSeq()).toBe(6);
    expect(t.store.log.snapshot()?.state.headSeq).toBe(6);
    const restarted = setup({ store: t.store });
    expect(restarted.room.requireState()).toEqual(t.room.requireState());
  });
});
