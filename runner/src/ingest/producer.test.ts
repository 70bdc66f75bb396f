import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MAX_EVENTS_PER_FRAME, MAX_FRAME_BYTES, type RunnerEventBody } from '@kiln/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ServerError } from '../net/errors';
import { Outbox } from '../outbox';
import { FakeKilnServer } from '../testing/fake-kiln-server';
import { IngestProducer, type IngestProducerOptions } from './producer';

let server: FakeKilnServer;
let url: string;
const producers: IngestProducer[] = [];

beforeEach(async () => {
  server = new FakeKilnServer();
  url = await server.start();
});

afterEach(async () => {
  for (const producer of producers.splice(0)) producer.close();
  await server.stop();
});

function producer(options: Partial<IngestProducerOptions> = {}): IngestProducer {
  const p = new IngestProducer({
    url,
    token: server.token,
    buildId: 'build-1',
    minRetryDelayMs: 5,
    maxRetryDelayMs: 20,
    ...options,
  });
  producers.push(p);
  return p;
}

/** `n` text deltas of `size` characters, each one distinct. */
function deltas(n: number, size = 10): RunnerEventBody[] {
  return Array.from({ length: n }, (_, i) => ({
    type: 'text-delta' as const,
    messageId: 'm1',
    delta: `${i}:`.padEnd(size, 'x'),
  }));
}

function expectContiguousFrames() {
  let next = 1;
  for (const frame of server.frames) {
    expect(frame.firstProducerSeq).toBeLessThanOrEqual(next);
    next = Math.max(next, frame.firstProducerSeq + frame.events.length);
  }
}

describe('IngestProducer', () => {
  it('commits 2,500 events exactly once, in frames of at most 1,000 events', async () => {
    const p = producer();
    const events = deltas(2_500);
    p.append(events);
    await p.flush();
    expect(server.committed).toEqual(events);
    expect(p.ackedProducerSeq).toBe(2_500);
    expect(server.frames.map((f) => f.firstProducerSeq)).toEqual([1, 1_001, 2_001]);
    for (const frame of server.frames)
      expect(frame.events.length).toBeLessThanOrEqual(MAX_EVENTS_PER_FRAME);
    expect(server.badFrames).toEqual([]);
  });

  it('keeps frames under MAX_FRAME_BYTES by splitting large events across frames', async () => {
    const p = producer();
    const events = deltas(20, 200_000); // 4 MB of text: at least 4 frames
    p.append(events);
    await p.flush();
    expect(server.committed).toEqual(events);
    expect(server.frames.length).toBeGreaterThanOrEqual(4);
    for (const frame of server.frames) expect(frame.bytes).toBeLessThan(MAX_FRAME_BYTES);
  });

  it('keeps at most 8 unacknowledged frames in flight', async () => {
    server.deferAcks = true;
    const p = producer({ maxEventsPerFrame: 10 });
    const events = deltas(200);
    // The server acks only once 8 frames wait (or all 200 events are in), so a producer with a
    // smaller window never finishes and one with a larger window shows more than 8.
    server.on('frame', () => {
      if (server.unackedFrames >= 8 || server.acked === 200) server.flushAcks();
    });
    p.append(events);
    await p.flush();
    expect(server.maxUnackedFrames).toBe(8);
    expect(server.committed).toEqual(events);
  });

  it('resends from ready.ackedProducerSeq after a disconnect, committing everything exactly once', async () => {
    server.killAfterFrames.add(1); // commit the second frame, then drop the socket before its ack
    const p = producer({ maxEventsPerFrame: 50 });
    const events = deltas(500);
    p.append(events);
    await p.flush();
    expect(server.connections).toBe(2);
    expect(server.committed).toEqual(events);
    // Frames 3–8 went out on the first socket and died with it; the second resumes at 101.
    expect(server.frames.map((f) => f.firstProducerSeq)).toEqual([
      1, 51, 101, 151, 201, 251, 301, 351, 401, 451,
    ]);
    expectContiguousFrames();
  });

  it('answers a producer-gap by resending from the expected seq', async () => {
    server.dropFrames.add(1); // the second frame is lost: every later one leaves a gap
    const p = producer({ maxEventsPerFrame: 10 });
    const events = deltas(100);
    p.append(events);
    await p.flush();
    expect(server.gapErrors).toBeGreaterThan(0);
    expect(server.connections).toBe(1);
    expect(server.committed).toEqual(events);
  });

  it('answers rate-limited by pausing and resending from the seq the server expects', async () => {
    server.rateLimitFrames.add(5); // the last frame is refused, not stored: no later gap to recover by
    const p = producer({ maxEventsPerFrame: 10 });
    const events = deltas(60);
    p.append(events);
    await p.flush();
    expect(server.rateLimited).toBe(1);
    expect(server.connections).toBe(1);
    expect(server.committed).toEqual(events);
  });

  it('sends events appended after a flush as a new contiguous run of seqs', async () => {
    const p = producer();
    p.append(deltas(3));
    await p.flush();
    p.append(deltas(2));
    await p.flush();
    expect(server.frames.map((f) => [f.firstProducerSeq, f.events.length])).toEqual([
      [1, 3],
      [4, 2],
    ]);
  });

  it('fails for good on a stale epoch: flush rejects and it does not reconnect', async () => {
    server.epoch = 5;
    const p = producer({ producerEpoch: 1 });
    p.append(deltas(1));
    const error = await p.flush().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ code: 'stale-epoch' });
    expect(server.connections).toBe(1);
    expect(() => p.append(deltas(1))).toThrow(ServerError);
  });

  it('fails for good when the server refuses the token, with its message', async () => {
    const p = producer({ token: 'wrong' });
    p.append(deltas(1));
    const error = await p.flush().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ status: 401 });
    expect(String(error)).toContain('bad token');
  });

  it('sends an application ping on its interval', async () => {
    const p = producer({ pingIntervalMs: 20 });
    p.append(deltas(1));
    await p.flush();
    await server.waitFor(() => server.pings >= 2);
    expect(server.pings).toBeGreaterThanOrEqual(2);
  });

  it('rejects an event larger than MAX_EVENT_BYTES when it is appended', () => {
    const p = producer();
    expect(() => p.append(deltas(1, 300_000))).toThrow(RangeError);
  });

  it('a restarted producer that replays its run from seq 1 sends only what the server lacks', async () => {
    const events = deltas(12);
    server.seed(events.slice(0, 10)); // a previous process got this far
    const p = producer({ producerEpoch: 2 });
    p.append(events.slice(0, 1));
    await p.flush(); // resolves once `ready {ackedProducerSeq: 10}` is in
    expect(p.ackedProducerSeq).toBe(10);
    for (const event of events.slice(1)) p.append([event]);
    await p.flush();
    expect(server.committed).toEqual(events);
    expect(server.frames.every((f) => f.firstProducerSeq > 10)).toBe(true);
  });

  describe('over the libSQL outbox', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-producer-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('sends an event only once it is stored and deletes it once acknowledged', async () => {
      const outbox = await Outbox.open(path.join(dir, 'outbox.db'));
      const store = outbox.forBuild('build-1');
      let stored = 0;
      let sentBeforeStored = 0;
      let seen = 0;
      server.on('frame', () => {
        // 'frame' fires for every frame (hello and pings too): look only at new events frames.
        if (server.frames.length === seen) return;
        seen = server.frames.length;
        const frame = server.frames.at(-1)!;
        if (frame.firstProducerSeq + frame.events.length - 1 > stored) sentBeforeStored++;
      });
      const p = producer({
        maxEventsPerFrame: 5,
        store: {
          append: async (events) => {
            const seqs = await store.append(events);
            stored = seqs.at(-1)!;
            return seqs;
          },
          ack: store.ack,
        },
      });
      const events = deltas(30);
      p.append(events.slice(0, 10));
      p.append(events.slice(10));
      await p.flush();
      expect(server.committed).toEqual(events);
      expect(await outbox.unacked('build-1')).toEqual([]);
      expect(await outbox.pendingBuilds()).toEqual([]);
      expect(sentBeforeStored).toBe(0);
      expect(server.frames.length).toBeGreaterThanOrEqual(6);
      outbox.close();
    });

    it('resumes what a dead producer left: resends from ready.ackedProducerSeq, then continues the seqs', async () => {
      const file = path.join(dir, 'outbox.db');
      const first = await Outbox.open(file);
      const events = deltas(12);
      // A producer stored 12 events and the server committed the first 4, then it died before
      // the outbox learnt about any ack.
      await first.append('build-1', events);
      server.seed(events.slice(0, 4));
      first.close();
      const outbox = await Outbox.open(file);
      const epoch = await outbox.nextEpoch('build-1');
      const p = producer({
        producerEpoch: epoch,
        store: outbox.forBuild('build-1'),
        resume: { ackedSeq: 0, nextSeq: 13, entries: await outbox.allUnacked('build-1') },
      });
      p.append(deltas(2, 20));
      await p.flush();
      expect(server.committed).toEqual([...events, ...deltas(2, 20)]);
      // Nothing was sent twice: the first frame starts after what the server had.
      expect(server.frames[0]?.firstProducerSeq).toBe(5);
      expect(await outbox.unacked('build-1')).toEqual([]);
      outbox.close();
    });
  });
});
