import { afterEach, expect } from 'vitest';
import type { RunnerEventBody } from '../events';
import {
  connectProducer,
  type Peer,
  type Producer,
  renames,
  type Subscriber,
  subscribe,
} from './peer';
import type { ConformanceSession, ConformanceTarget } from './target';

/**
 * What every part of the suite uses: fresh sessions on the target, sockets onto them, and the
 * clean-up after each test (sessions disposed, every received frame checked against the
 * protocol).
 */
export interface SuiteContext {
  target: ConformanceTarget;
  /** A fresh session on the target, disposed after the test. */
  session(): Promise<ConformanceSession>;
  /** A session with `count` renames committed; its producer stays open. */
  sessionWith(count: number): Promise<{ s: ConformanceSession; p: Producer }>;
  /** A subscriber after `ready`, having sent `hello {lastSeq}` if given. */
  sub(s: ConformanceSession, lastSeq?: number): Promise<Subscriber>;
  /** An ingest socket after `hello` (answered `ready` or `error`). */
  producer(s: ConformanceSession, epoch?: number, buildId?: string): Promise<Producer>;
  /** Remembers a peer so its frames are checked after the test. */
  track<P extends Peer<{ type: string }>>(peer: P): P;
}

/** Registers the clean-up hook and returns the context (call once per suite run). */
export function suiteContext(target: ConformanceTarget): SuiteContext {
  const sessions: ConformanceSession[] = [];
  const peers: Peer<{ type: string }>[] = [];

  afterEach(async () => {
    const open = peers.splice(0);
    // The target's dispose frees the sockets (it knows whether closing them is safe).
    for (const s of sessions.splice(0)) await s.dispose();
    // Every frame any socket received matched the protocol's schema and size limit.
    expect(open.flatMap((p) => p.invalid)).toEqual([]);
  });

  const context: SuiteContext = {
    target,
    async session() {
      const s = await target.session();
      sessions.push(s);
      return s;
    },
    async sessionWith(count) {
      const s = await context.session();
      const p = await context.producer(s);
      if (count > 0) await p.produce(1, renames(0, count));
      return { s, p };
    },
    sub: async (s, lastSeq) => context.track(await subscribe(s, lastSeq)),
    producer: async (s, epoch = 1, buildId) =>
      context.track(await connectProducer(s, epoch, buildId)),
    track(peer) {
      peers.push(peer);
      return peer;
    },
  };
  return context;
}

/**
 * The same context, but every session's first subscriber comes after `crowd` idle sockets (no
 * `hello`), so on a target with viewer shards it is served by a shard.
 */
export function behindCrowd(context: SuiteContext, crowd: number): SuiteContext {
  const filled = new WeakSet<ConformanceSession>();
  return {
    ...context,
    async sub(s, lastSeq) {
      if (!filled.has(s)) {
        filled.add(s);
        for (let i = 0; i < crowd; i++) await context.sub(s);
      }
      return context.sub(s, lastSeq);
    },
  };
}

export function seqs(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export function textDeltas(messageId: string, parts: string[]): RunnerEventBody[] {
  return parts.map((delta) => ({ type: 'text-delta', messageId, delta }));
}
