import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../events';
import { type SuiteContext, textDeltas } from './context';
import { renames } from './peer';

/** PROTOCOL.md §3: the idempotent producer (ready, duplicates, gaps, epochs, leases, coalescing). */
export function producerTests(ctx: SuiteContext): void {
  const { target, session, sessionWith, sub, producer } = ctx;
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

    it.skipIf(!target.capabilities.exactlyOnceTurnEnds)(
      '[exactlyOnceTurnEnds] drops a turn-finished for a turn that is no longer running, and still acks it',
      async () => {
        const { s, p } = await sessionWith(0);
        const turnId = 'turn-1';
        await p.produce(1, [
          {
            type: 'turn-started',
            turnId,
            buildId: s.buildId,
            runnerId: 'conformance',
            agent: 'replay',
            model: 'test-model',
          },
          { type: 'turn-finished', turnId, status: 'completed', durationMs: 1 },
        ]);
        await p.produce(3, [{ type: 'turn-finished', turnId, status: 'failed', durationMs: 2 }]);
        expect(p.ofType('ack').at(-1)).toEqual({ type: 'ack', producerSeq: 3 });
        expect((await s.log()).map((e) => e.type)).toEqual(['turn-started', 'turn-finished']);
      },
    );

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
}

function titleOf(event: SessionEvent): string | undefined {
  return event.type === 'session-renamed' ? event.title : undefined;
}
