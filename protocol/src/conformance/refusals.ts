import { describe, expect, it } from 'vitest';
import {
  MAX_BAD_FRAMES,
  MAX_CLIENT_FRAMES_PER_SECOND,
  MAX_EVENT_BYTES,
  MAX_FRAME_BYTES,
  TOOL_OUTPUT_LIMIT_BYTES,
} from '../limits';
import type { SuiteContext } from './context';
import { Producer, renames } from './peer';

/**
 * PROTOCOL.md §4: limits and bad frames, refused with their codes; nothing refused is stored.
 * Not here: the ingest event rate (`MAX_INGEST_EVENTS_PER_SECOND`). Its bucket refills at 50,000
 * events/s, about as fast as a loaded machine parses them, so whether a burst is refused depends
 * on the machine's speed; it needs a clock the suite cannot set on a real server.
 */
export function refusalTests(ctx: SuiteContext): void {
  const { session, sessionWith, sub, track } = ctx;
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
      // The bucket grants at most burst + rate × (time since it was made) frames, and it is made
      // after `start`. Until the socket closes, more hellos are kept sent than it could grant by
      // now plus the refusals that close it: once the server has read them all it has refused
      // MAX_BAD_FRAMES + 1, however slowly it reads. Each answered hello re-sends event 1.
      const start = Date.now();
      const peer = await sub(s);
      const grantable = () =>
        MAX_CLIENT_FRAMES_PER_SECOND * (2 + (Date.now() - start) / 1000) + MAX_BAD_FRAMES + 1;
      let sent = 0;
      while (peer.closed === undefined) {
        for (; sent <= grantable(); sent++) peer.send({ type: 'hello', lastSeq: 0 });
        const seen = peer.frames.length;
        await peer.waitFor(() => peer.frames.length > seen || peer.closed !== undefined, 'answers');
      }
      expect(peer.closed?.code).toBe(1008);
      const errors = peer.errors();
      expect(errors.some((e) => e.code === 'rate-limited' && !e.fatal)).toBe(true);
      expect(errors.at(-1)).toMatchObject({ fatal: true });
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

    it('refuses recordedAt on a build that is not an import build (§7) with bad-frame, storing nothing', async () => {
      const { s, p } = await sessionWith(1);
      const [event] = renames(1, 1);
      p.send({ type: 'events', firstProducerSeq: 2, events: [{ ...event!, recordedAt: 1 }] });
      const [error] = await p.waitForType('error');
      expect(error).toMatchObject({ code: 'bad-frame', fatal: false });
      expect(await s.log()).toHaveLength(1);
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
}
