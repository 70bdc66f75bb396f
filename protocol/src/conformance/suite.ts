import { afterEach, describe, expect, it } from 'vitest';
import type { RunnerEventBody, SessionEvent } from '../events';
import {
  MAX_BAD_FRAMES,
  MAX_CLIENT_FRAMES_PER_SECOND,
  MAX_EVENT_BYTES,
  MAX_EVENTS_PER_FRAME,
  MAX_FRAME_BYTES,
  MAX_INGEST_EVENTS_PER_SECOND,
  PROTOCOL_VERSION,
  REPLAY_LIMIT,
  REPLAY_ROUND_EVENTS,
  TOOL_OUTPUT_LIMIT_BYTES,
} from '../limits';
import { connectProducer, type Peer, Producer, renames, subscribe } from './peer';
import type { ConformanceSession, ConformanceTarget } from './target';

/**
 * The socket and producer contract of PROTOCOL.md §2–§4 as one Vitest suite (modelled on Durable
 * Streams' `runConformanceTests`), run against every server that speaks it: the SessionDO in
 * workerd and the runner's FakeKilnServer. Call it at the top level of a test file. Only
 * standard APIs (timers, JSON), so it runs in workerd and in Node alike. Presence frames are
 * ignored: their shape is not part of this suite.
 */
export function runConformanceTests(target: ConformanceTarget): void {
  const sessions: ConformanceSession[] = [];
  const peers: Peer<{ type: string }>[] = [];

  /** A fresh session on the target, disposed after the test. */
  async function session(): Promise<ConformanceSession> {
    const s = await target.session();
    sessions.push(s);
    return s;
  }
  /** Remembers a peer so its frames are checked and its socket closed after the test. */
  function track<P extends Peer<{ type: string }>>(peer: P): P {
    peers.push(peer);
    return peer;
  }
  const sub = async (s: ConformanceSession, lastSeq?: number) => track(await subscribe(s, lastSeq));
  const producer = async (s: ConformanceSession, epoch = 1, buildId?: string) =>
    track(await connectProducer(s, epoch, buildId));

  /** A session with `count` renames committed; its producer stays open. */
  async function sessionWith(count: number) {
    const s = await session();
    const p = await producer(s);
    if (count > 0) await p.produce(1, renames(0, count));
    return { s, p };
  }

  afterEach(async () => {
    const open = peers.splice(0);
    for (const peer of open) peer.close();
    for (const s of sessions.splice(0)) await s.dispose();
    // Every frame any socket received matched the protocol's schema for its direction.
    expect(open.flatMap((p) => p.invalid)).toEqual([]);
  });

  describe(`protocol conformance: ${target.name}`, () => {
    describe('subscribers (§2)', () => {
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
          await peer.barrier();
          expect(peer.events()).toEqual(log.slice(lastSeq));
          expect(peer.frames.filter((f) => f.type === 'snapshot' || f.type === 'error')).toEqual(
            [],
          );
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
        // Exactly REPLAY_LIMIT missing: still events.
        const atLimit = await sub(s, 1);
        await atLimit.barrier();
        expect(atLimit.events().map((e) => e.seq)).toEqual(seqs(2, head));
        expect(atLimit.ofType('snapshot')).toEqual([]);
        atLimit.close();
        // One more: a snapshot at head, then live events after it.
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
    });

    describe('producers (§3)', () => {
      it('answers hello with ready {ackedProducerSeq}, and again after a reconnect', async () => {
        const s = await session();
        const first = await producer(s, 1);
        expect(first.frames).toEqual([{ type: 'ready', ackedProducerSeq: 0 }]);
        await first.produce(1, renames(0, 3));
        expect(first.ofType('ack').at(-1)).toEqual({ type: 'ack', producerSeq: 3 });
        const second = await producer(s, 2);
        expect(second.frames[0]).toEqual({ type: 'ready', ackedProducerSeq: 3 });
      });

      it('drops duplicates and acks them again; a partly duplicate frame appends only its new tail', async () => {
        const { s, p } = await sessionWith(3);
        // Producer seqs 2..5: 2 and 3 are duplicates, 4 and 5 are new.
        await p.produce(2, renames(1, 4));
        expect((await s.log()).map(titleOf)).toEqual(['t0', 't1', 't2', 't3', 't4']);
        const acks = p.ofType('ack').length;
        p.send({ type: 'events', firstProducerSeq: 1, events: renames(0, 2) });
        await p.waitFor(() => p.ofType('ack').length > acks, 'ack of a duplicate frame');
        expect(p.frames.at(-1)).toEqual({ type: 'ack', producerSeq: 5 });
        expect(await s.log()).toHaveLength(5);
      });

      it('refuses a frame past acked + 1 with producer-gap and the expected seq, storing nothing', async () => {
        const { s, p } = await sessionWith(2);
        p.send({ type: 'events', firstProducerSeq: 5, events: renames(4, 2) });
        const [error] = await p.waitForType('error');
        expect(error).toMatchObject({ code: 'producer-gap', expectedProducerSeq: 3, fatal: false });
        expect(await s.log()).toHaveLength(2);
        // The socket stays usable: the expected seq is accepted.
        await p.produce(3, renames(2, 1));
        expect(await s.log()).toHaveLength(3);
      });

      it('fences a lower epoch and closes an older connection when a newer one says hello', async () => {
        const { s, p: first } = await sessionWith(1);
        const second = await producer(s, 2);
        expect(second.frames[0]).toEqual({ type: 'ready', ackedProducerSeq: 1 });
        expect(await first.closeCode()).toBe(1008);
        expect(first.frames.at(-1)).toMatchObject({
          type: 'error',
          code: 'stale-epoch',
          fatal: true,
        });
        const zombie = await producer(s, 1);
        expect(zombie.frames[0]).toMatchObject({ type: 'error', code: 'stale-epoch', fatal: true });
        expect(await zombie.closeCode()).toBe(1008);
        // The newest producer goes on.
        await second.produce(2, renames(1, 1));
        expect(await s.log()).toHaveLength(2);
      });

      it('refuses a hello for a build that is not leased with a fatal no-lease', async () => {
        const s = await session();
        const peer = await producer(s, 1, 'no-such-build');
        expect(peer.frames[0]).toMatchObject({ type: 'error', code: 'no-lease', fatal: true });
        expect(await peer.closeCode()).toBe(1008);
      });

      it.skipIf(!target.capabilities.coalescesDeltas)(
        '[coalescesDeltas] merges consecutive deltas of one message in one frame, for storage and subscribers alike',
        async () => {
          const s = await session();
          const watcher = await sub(s, 0);
          await watcher.barrier();
          const p = await producer(s);
          await p.produce(1, [
            ...textDeltas('m1', ['a', 'b', 'c']),
            { type: 'reasoning-delta', messageId: 'm1', delta: 'x' },
            ...textDeltas('m1', ['d', 'e']),
            ...textDeltas('m2', ['f']),
          ]);
          expect(p.ofType('ack').at(-1)).toEqual({ type: 'ack', producerSeq: 7 });
          const log = await s.log();
          expect(log.map((e) => ('delta' in e ? `${e.type}:${e.delta}` : e.type))).toEqual([
            'text-delta:abc',
            'reasoning-delta:x',
            'text-delta:de',
            'text-delta:f',
          ]);
          expect(await watcher.waitForEvents(4)).toEqual(log);
        },
      );
    });

    describe('limits (§4)', () => {
      it('refuses a frame over MAX_FRAME_BYTES and an event over MAX_EVENT_BYTES or the tool output cap, storing nothing', async () => {
        const { s, p } = await sessionWith(1);
        p.send({
          type: 'events',
          firstProducerSeq: 2,
          events: [{ type: 'session-renamed', title: 'x'.repeat(MAX_FRAME_BYTES) }],
        });
        p.send({
          type: 'events',
          firstProducerSeq: 2,
          events: [
            {
              type: 'tool-input-available',
              toolCallId: 't',
              toolName: 'Write',
              input: { content: 'x'.repeat(MAX_EVENT_BYTES) },
            },
          ],
        });
        p.send({
          type: 'events',
          firstProducerSeq: 2,
          events: [
            {
              type: 'tool-output-available',
              toolCallId: 't',
              output: 'x'.repeat(TOOL_OUTPUT_LIMIT_BYTES + 1),
              isError: false,
              truncated: false,
              durationMs: 1,
            },
          ],
        });
        const errors = await p.waitForType('error', 3);
        expect(errors.map((e) => [e.code, e.fatal])).toEqual([
          ['frame-too-large', false],
          ['event-too-large', false],
          ['event-too-large', false],
        ]);
        expect(await s.log()).toHaveLength(1);
      });

      it(`refuses subscriber frames past MAX_CLIENT_FRAMES_PER_SECOND (${MAX_CLIENT_FRAMES_PER_SECOND}, burst ${MAX_CLIENT_FRAMES_PER_SECOND * 2}) with rate-limited, then closes with 1008`, async () => {
        const { s } = await sessionWith(1);
        const peer = await sub(s);
        // Three seconds' worth of frames at once: never all inside the bucket, however slow.
        const frames = MAX_CLIENT_FRAMES_PER_SECOND * 5;
        for (let i = 0; i < frames; i++) peer.send({ type: 'hello', lastSeq: 1 });
        expect(await peer.closeCode()).toBe(1008);
        const errors = peer.errors();
        expect(errors.some((e) => e.code === 'rate-limited' && !e.fatal)).toBe(true);
        expect(errors.at(-1)).toMatchObject({ fatal: true });
      });

      it(`refuses ingest events past MAX_INGEST_EVENTS_PER_SECOND (${MAX_INGEST_EVENTS_PER_SECOND}) with rate-limited and the seq to resend from`, async () => {
        const { s, p } = await sessionWith(MAX_EVENTS_PER_FRAME);
        // All duplicates, so each is cheap to refuse: the bucket counts events before admission.
        // Four seconds' worth at once: the bucket (burst twice the rate) empties however slow.
        const duplicate = {
          type: 'events',
          firstProducerSeq: 1,
          events: renames(0, MAX_EVENTS_PER_FRAME),
        };
        const frames = (MAX_INGEST_EVENTS_PER_SECOND * 4) / MAX_EVENTS_PER_FRAME;
        for (let i = 0; i < frames; i++) p.send(duplicate);
        await p.waitFor(
          () => p.ofType('ack').length + p.errors().length >= frames + 1,
          'an answer to every frame',
        );
        const errors = p.errors();
        expect(errors.length).toBeGreaterThan(0);
        for (const error of errors) {
          expect(error).toMatchObject({
            code: 'rate-limited',
            fatal: false,
            expectedProducerSeq: MAX_EVENTS_PER_FRAME + 1,
          });
        }
        expect(await s.log()).toHaveLength(MAX_EVENTS_PER_FRAME);
      });
    });

    describe('bad frames (§4)', () => {
      it('refuses malformed ingest frames with bad-frame, non-fatal, and stores nothing', async () => {
        const { s, p } = await sessionWith(2);
        const at = 3;
        const bad = [
          'not json',
          '{"type":"events"',
          JSON.stringify({ type: 'subscribe', buildId: s.buildId }),
          JSON.stringify({ type: 'events', firstProducerSeq: at }),
          JSON.stringify({ type: 'events', firstProducerSeq: 0, events: renames(0, 1) }),
          JSON.stringify({ type: 'events', firstProducerSeq: at, events: [] }),
          JSON.stringify({
            type: 'events',
            firstProducerSeq: at,
            events: [{ type: 'text-delta', messageId: 'm1' }],
          }),
          JSON.stringify({
            type: 'events',
            firstProducerSeq: at,
            events: [
              {
                type: 'user-message',
                messageId: 'x',
                clientMessageId: 'y',
                text: 'forged',
                authorId: 'z',
              },
            ],
          }),
          JSON.stringify({
            type: 'events',
            firstProducerSeq: at,
            events: [{ type: 'session-status', status: 'completed' }],
          }),
          JSON.stringify({
            type: 'events',
            firstProducerSeq: at,
            events: [
              {
                type: 'turn-started',
                turnId: 't',
                buildId: 'another-build',
                runnerId: 'r',
                agent: 'a',
                model: 'm',
              },
            ],
          }),
        ];
        expect(bad.length).toBeLessThanOrEqual(MAX_BAD_FRAMES);
        for (const frame of bad) p.send(frame);
        const errors = await p.waitForType('error', bad.length);
        expect(errors.map((e) => [e.code, e.fatal])).toEqual(bad.map(() => ['bad-frame', false]));
        expect(await s.log()).toHaveLength(2);
        // Still serving.
        await p.produce(at, renames(2, 1));
        expect(await s.log()).toHaveLength(3);
      });

      it('refuses events before hello with bad-frame', async () => {
        const s = await session();
        const peer = track(new Producer());
        peer.attach(await s.openIngest(peer.handlers));
        peer.send({ type: 'events', firstProducerSeq: 1, events: renames(0, 1) });
        const [error] = await peer.waitForType('error');
        expect(error).toMatchObject({ code: 'bad-frame', fatal: false });
        expect(await s.log()).toEqual([]);
      });

      it('refuses malformed subscriber frames with bad-frame, non-fatal, and changes nothing', async () => {
        const { s } = await sessionWith(2);
        const before = await s.log();
        const peer = await sub(s);
        const bad = [
          'not json',
          JSON.stringify({ type: 'subscribe' }),
          JSON.stringify({ type: 'hello', lastSeq: -1 }),
          JSON.stringify({ type: 'hello', lastSeq: 'x' }),
          JSON.stringify({ type: 'ack', seq: 1.5 }),
          JSON.stringify({ type: 'send', clientMessageId: '', text: 'hi' }),
        ];
        for (const frame of bad) peer.send(frame);
        const errors = await peer.waitForType('error', bad.length);
        expect(errors.map((e) => [e.code, e.fatal])).toEqual(bad.map(() => ['bad-frame', false]));
        expect(peer.events()).toEqual([]);
        expect(await s.log()).toEqual(before);
      });

      it(`closes a socket with 1008 on its bad frame number MAX_BAD_FRAMES + 1 (${MAX_BAD_FRAMES + 1}), on both sockets`, async () => {
        const { s, p } = await sessionWith(1);
        const peer = await sub(s);
        for (const socket of [p, peer]) {
          for (let i = 0; i <= MAX_BAD_FRAMES; i++) socket.send('not json');
          expect(await socket.closeCode()).toBe(1008);
          const errors = socket.errors();
          expect(errors.map((e) => e.fatal)).toEqual([
            ...Array<boolean>(MAX_BAD_FRAMES).fill(false),
            true,
          ]);
        }
        expect(await s.log()).toHaveLength(1);
      });
    });
  });
}

function seqs(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function titleOf(event: SessionEvent): string | undefined {
  return event.type === 'session-renamed' ? event.title : undefined;
}

function textDeltas(messageId: string, parts: string[]): RunnerEventBody[] {
  return parts.map((delta) => ({ type: 'text-delta', messageId, delta }));
}
