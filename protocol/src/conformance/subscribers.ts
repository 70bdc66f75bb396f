import { describe, expect, it } from 'vitest';
import type { RunnerEventBody } from '../events';
import {
  LAG_LIMIT_EVENTS,
  MAX_EVENTS_PER_FRAME,
  MAX_FRAME_BYTES,
  PING_FRAME,
  PROTOCOL_VERSION,
  REPLAY_LIMIT,
  REPLAY_ROUND_EVENTS,
} from '../limits';
import { type SuiteContext, seqs } from './context';
import { renames } from './peer';

/** The `route` of the subscriber tests run behind a crowd, so through a viewer shard. */
export const VIA_SHARD = ' through a viewer shard';

/**
 * PROTOCOL.md §2: `ready`, ordering and fan-out, catch-up from any `lastSeq`, snapshots.
 * `route` names how the subscribers reach the session (directly, or through a viewer shard).
 */
export function subscriberTests(ctx: SuiteContext, route = ''): void {
  const { session, sessionWith, sub, producer } = ctx;
  // Finding (conformance suite): a viewer shard answers a ping at once, while its catch-up for an
  // earlier `hello` still reads from the session over RPC, so behind a shard the ping is not the
  // barrier PROTOCOL.md §2 (Ping) promises. The other tests wait for what they expect before
  // using a barrier; this one shows the difference. Drop `.fails` once shards order their pongs.
  const barrierTest = route === VIA_SHARD ? it.fails : it;
  describe(`subscribers (§2)${route}`, () => {
    it('sends ready first, with the session, its head and the protocol version', async () => {
      const { s } = await sessionWith(3);
      const peer = await sub(s);
      expect(peer.frames[0]).toEqual({
        type: 'ready',
        sessionId: s.sessionId,
        headSeq: 3,
        protocolVersion: PROTOCOL_VERSION,
        viewerId: expect.any(String),
      });
    });

    it('delivers every committed event to every subscriber in seq order, each once', async () => {
      const s = await session();
      const a = await sub(s, 0);
      const b = await sub(s, 0);
      await Promise.all([a.barrier(), b.barrier()]);
      const p = await producer(s);
      await p.produce(1, renames(0, 5));
      await p.produce(6, renames(5, 1));
      await p.produce(7, renames(6, 4));
      const log = await s.log();
      expect(log.map((e) => e.seq)).toEqual(seqs(1, 10));
      for (const peer of [a, b]) expect(await peer.waitForEvents(10)).toEqual(log);
      await Promise.all([a.barrier(), b.barrier()]);
      expect(a.events()).toHaveLength(10);
      expect(b.events()).toHaveLength(10);
    });

    it('resumes from 0, a middle seq and head with exactly the missing events, in bounded rounds', async () => {
      const head = REPLAY_ROUND_EVENTS * 2 + 7;
      const { s } = await sessionWith(head);
      const log = await s.log();
      for (const lastSeq of [0, REPLAY_ROUND_EVENTS + 3, head - 1, head]) {
        const peer = await sub(s, lastSeq);
        await peer.waitForEvents(head - lastSeq);
        await peer.barrier();
        expect(peer.events()).toEqual(log.slice(lastSeq));
        expect(peer.frames.filter((f) => f.type === 'snapshot' || f.type === 'error')).toEqual([]);
        for (const frame of peer.ofType('events')) {
          expect(frame.events.length).toBeLessThanOrEqual(REPLAY_ROUND_EVENTS);
        }
        peer.close();
      }
    });

    it('continues a resumed subscriber with live events: no gap, no repeat', async () => {
      const { s, p } = await sessionWith(6);
      const peer = await sub(s, 2);
      await peer.waitForEvents(4);
      await p.produce(7, renames(6, 3));
      await peer.waitForEvents(7);
      await peer.barrier();
      expect(peer.events().map((e) => e.seq)).toEqual(seqs(3, 9));
    });

    it('answers hello past head with a non-fatal ahead-of-head, then a snapshot at head', async () => {
      const { s, p } = await sessionWith(4);
      const peer = await sub(s, 40);
      const [snapshot] = await peer.waitForType('snapshot');
      const [error] = peer.errors();
      expect(error).toMatchObject({ code: 'ahead-of-head', fatal: false });
      expect(peer.frames.indexOf(error!)).toBeLessThan(peer.frames.indexOf(snapshot!));
      expect(snapshot).toMatchObject({ seq: 4, state: { headSeq: 4, title: 't3' } });
      expect(peer.events()).toEqual([]);
      // Live events follow the snapshot's seq.
      await p.produce(5, renames(4, 1));
      expect((await peer.waitForEvents(1)).map((e) => e.seq)).toEqual([5]);
    });

    it(`sends a snapshot instead of events when more than REPLAY_LIMIT (${REPLAY_LIMIT}) are missing`, async () => {
      const head = REPLAY_LIMIT + 1;
      const { s, p } = await sessionWith(head);
      // One more than REPLAY_LIMIT missing: a snapshot at head, then live events after it (first,
      // while the producer's lease is fresh).
      const past = await sub(s, 0);
      const [snapshot] = await past.waitForType('snapshot');
      expect(snapshot).toMatchObject({
        seq: head,
        state: { headSeq: head, title: `t${head - 1}` },
      });
      await past.barrier();
      expect(past.events()).toEqual([]);
      await p.produce(head + 1, renames(head, 1));
      expect((await past.waitForEvents(1)).map((e) => e.seq)).toEqual([head + 1]);
      // Exactly REPLAY_LIMIT missing: still events.
      const atLimit = await sub(s, 2);
      await atLimit.waitForEvents(REPLAY_LIMIT);
      await atLimit.barrier();
      expect(atLimit.events().map((e) => e.seq)).toEqual(seqs(3, head + 1));
      expect(atLimit.ofType('snapshot')).toEqual([]);
    });

    it('accepts hello again at any time and resends from its lastSeq', async () => {
      const { s } = await sessionWith(5);
      const peer = await sub(s, 0);
      await peer.waitForEvents(5);
      peer.send({ type: 'hello', lastSeq: 3 });
      await peer.waitForEvents(7);
      await peer.barrier();
      expect(peer.events().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 4, 5]);
    });
    it('keeps a catch-up apart from live commits: contiguous, each event once, while the producer streams', async () => {
      const before = REPLAY_ROUND_EVENTS * 2;
      const { s, p } = await sessionWith(before);
      const peer = await sub(s);
      // Five frames sent without waiting for acks; the hello lands somewhere among their commits.
      const frame = 100;
      for (let i = 0; i < 5; i++) {
        p.send({
          type: 'events',
          firstProducerSeq: before + 1 + i * frame,
          events: renames(before + i * frame, frame),
        });
      }
      peer.send({ type: 'hello', lastSeq: 0 });
      const head = before + 5 * frame;
      await p.waitFor(() => p.ofType('ack').some((a) => a.producerSeq === head), `ack ${head}`);
      await peer.waitForEvents(head);
      await peer.barrier();
      expect(peer.events().map((e) => e.seq)).toEqual(seqs(1, head));
    });

    it('splits a live batch over MAX_FRAME_BYTES into several frames, in order', async () => {
      const s = await session();
      const peer = await sub(s, 0);
      await peer.barrier();
      const p = await producer(s);
      // One ingest frame just under the limit; with seq and at added, its events are over it.
      const count = 1000;
      const overhead = JSON.stringify(bigDelta(0, '')).length + 1;
      const size = Math.floor((MAX_FRAME_BYTES - 1000) / count) - overhead;
      const events = Array.from({ length: count }, (_, i) => bigDelta(i, 'x'.repeat(size)));
      expect(JSON.stringify({ type: 'events', firstProducerSeq: 1, events }).length).toBeLessThan(
        MAX_FRAME_BYTES,
      );
      await p.produce(1, events);
      await peer.waitForEvents(count);
      // Every frame was checked against MAX_FRAME_BYTES on arrival (Peer.invalid).
      expect(peer.ofType('events').length).toBeGreaterThan(1);
      expect(peer.events().map((e) => e.seq)).toEqual(seqs(1, count));
    });

    it('splits a catch-up of large events by MAX_FRAME_BYTES as well as by count', async () => {
      const s = await session();
      const p = await producer(s);
      // Six events of 200,000 bytes (each under MAX_EVENT_BYTES), two per ingest frame.
      const events = Array.from({ length: 6 }, (_, i) => bigDelta(i, 'x'.repeat(200_000)));
      for (let i = 0; i < events.length; i += 2) await p.produce(i + 1, events.slice(i, i + 2));
      const peer = await sub(s, 0);
      await peer.waitForEvents(events.length);
      // Every frame was checked against MAX_FRAME_BYTES on arrival (Peer.invalid).
      expect(peer.ofType('events').length).toBeGreaterThan(1);
      expect(peer.events().map((e) => e.seq)).toEqual(seqs(1, events.length));
    });

    // Finding (conformance suite): a snapshot is one frame however large the state, so a session
    // whose state is over MAX_FRAME_BYTES gets a snapshot over it, on both targets, against
    // PROTOCOL.md §2 ("every frame, live or catch-up, stays under MAX_FRAME_BYTES"). Either the
    // text should exempt snapshots or snapshots should be split; drop `.fails` then.
    it.fails('keeps a snapshot of a state over MAX_FRAME_BYTES under MAX_FRAME_BYTES', async () => {
      const s = await session();
      const p = await producer(s);
      const events = Array.from({ length: 6 }, (_, i) => bigDelta(i, 'x'.repeat(200_000)));
      for (let i = 0; i < events.length; i += 2) await p.produce(i + 1, events.slice(i, i + 2));
      const peer = await sub(s);
      peer.checkFrameBytes = false;
      peer.send({ type: 'hello', lastSeq: events.length + 1 });
      const [snapshot] = await peer.waitForType('snapshot');
      expect(snapshot?.state.messages).toHaveLength(events.length);
      expect(peer.largestFrameBytes).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    });

    barrierTest(
      'answers a ping after the catch-up of the hello before it (a barrier)',
      async () => {
        const head = REPLAY_ROUND_EVENTS * 2 + 7;
        const { s } = await sessionWith(head);
        const peer = await sub(s, 0);
        await peer.barrier();
        expect(peer.events()).toHaveLength(head);
      },
    );

    it('answers the exact ping text with pong on both sockets', async () => {
      const { s, p } = await sessionWith(1);
      const peer = await sub(s, 1);
      peer.send(PING_FRAME);
      p.send(PING_FRAME);
      await peer.waitForType('pong');
      await p.waitForType('pong');
    });

    it.skipIf(!ctx.target.capabilities.clientCommands)(
      '[clientCommands] send appends a user-message once per clientMessageId and passes it to the runner',
      async () => {
        const { s, p } = await sessionWith(1);
        const peer = await sub(s, 1);
        await peer.barrier();
        peer.send({ type: 'send', clientMessageId: 'c1', text: 'first' });
        const [command] = await p.waitForType('command');
        expect(command?.command).toMatchObject({ kind: 'user-message', text: 'first' });
        const [event] = await peer.waitForEvents(1);
        expect(event).toMatchObject({
          seq: 2,
          type: 'user-message',
          clientMessageId: 'c1',
          text: 'first',
        });
        // A retry of c1 appends nothing; c2, sent after it, comes next.
        peer.send({ type: 'send', clientMessageId: 'c1', text: 'first' });
        peer.send({ type: 'send', clientMessageId: 'c2', text: 'second' });
        await peer.waitForEvents(2);
        await peer.barrier();
        const log = await s.log();
        expect(log.map((e) => (e.type === 'user-message' ? e.clientMessageId : e.type))).toEqual([
          'session-renamed',
          'c1',
          'c2',
        ]);
      },
    );

    it.skipIf(!ctx.target.capabilities.clientCommands)(
      '[clientCommands] interrupt is refused with conflict when no turn runs, else passed to the runner',
      async () => {
        const { s, p } = await sessionWith(1);
        const peer = await sub(s, 1);
        peer.send({ type: 'interrupt' });
        const [error] = await peer.waitForType('error');
        expect(error).toMatchObject({ code: 'conflict', fatal: false });
        await p.produce(2, [
          {
            type: 'turn-started',
            turnId: 'turn-1',
            buildId: s.buildId,
            runnerId: 'conformance',
            agent: 'replay',
            model: 'test-model',
          },
        ]);
        peer.send({ type: 'interrupt' });
        const [command] = await p.waitForType('command');
        expect(command?.command).toEqual({ kind: 'interrupt' });
      },
    );

    it.skipIf(!ctx.target.capabilities.flowControl)(
      `[flowControl] holds a subscriber that acks at LAG_LIMIT_EVENTS (${LAG_LIMIT_EVENTS}) past its ack, then sends a snapshot once it acks`,
      async () => {
        const s = await session();
        const slow = await sub(s, 0);
        slow.send({ type: 'ack', seq: 0 });
        await slow.barrier();
        const p = await producer(s);
        const head = LAG_LIMIT_EVENTS + 2 * MAX_EVENTS_PER_FRAME;
        await p.produce(1, renames(0, head));
        const [lagging] = await slow.waitForType('error');
        expect(lagging).toMatchObject({ code: 'lagging', fatal: false });
        await slow.barrier();
        const received = slow.events();
        expect(received.length).toBeGreaterThan(0);
        expect(received.length).toBeLessThanOrEqual(LAG_LIMIT_EVENTS);
        expect(received.map((e) => e.seq)).toEqual(seqs(1, received.length));
        slow.send({ type: 'ack', seq: received.length });
        const [snapshot] = await slow.waitForType('snapshot');
        expect(snapshot).toMatchObject({ seq: head, state: { headSeq: head } });
        await p.produce(head + 1, renames(head, 1));
        await slow.waitFor(() => slow.events().at(-1)?.seq === head + 1, 'live again');
      },
    );
  });
}

/** A text delta of its own message (so nothing coalesces it). */
function bigDelta(i: number, delta: string): RunnerEventBody {
  return { type: 'text-delta', messageId: `m${String(i).padStart(4, '0')}`, delta };
}
