import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunnerEventBody } from '@kiln/protocol';
import { textDeltas } from '@kiln/protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestProducer } from '../../runner/src/ingest/producer';
import { ROOT } from '../../scripts/dev-stack.ts';
import { pollUntil, startTsx } from '../../scripts/processes.ts';
import { type BenchStack, startBenchStack } from '../src/stack';
import { leaseBuild } from '../src/systems/kiln';
import {
  api,
  type ChaosClient,
  d1CaughtUp,
  expectConsistent,
  joinedClients,
  serverHead,
} from './client';

/**
 * Faults injected mid-build. "Mid-build" is made, not hoped for: each test streams a first part,
 * waits until the server acknowledged it (and the watchers have it), and only then injects the
 * fault, so the outcome never depends on how fast the machine is.
 */

let stack: BenchStack;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-chaos-'));
  stack = await startBenchStack(dir);
});

afterAll(async () => {
  await stack?.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

const ingestUrl = (path: string) => stack.server.replace(/^http/, 'ws') + path;
const START: RunnerEventBody = { type: 'message-start', messageId: 'm1', role: 'assistant' };
const FINISH: RunnerEventBody = { type: 'message-finish', messageId: 'm1', finishReason: 'stop' };
/** The text of m1 once deltas 0 … n - 1 are in. */
const textOf = (n: number) =>
  textDeltas('m1', 0, n)
    .map((d) => d.delta)
    .join('');

/** Appends m1's deltas `from` … `to - 1`, `perAppend` at a time (the producer frames them). */
function appendDeltas(producer: IngestProducer, from: number, to: number, perAppend = 20): void {
  for (let i = from; i < to; i += perAppend) {
    producer.append(textDeltas('m1', i, Math.min(i + perAppend, to)));
  }
}

async function leasedProducer(sessionId: string, retry?: { min: number; max: number }) {
  const lease = await leaseBuild(stack, sessionId);
  return new IngestProducer({
    url: ingestUrl(lease.ingestPath),
    token: stack.config.token,
    buildId: lease.buildId,
    ...(retry ? { minRetryDelayMs: retry.min, maxRetryDelayMs: retry.max } : {}),
  });
}

/** Waits until every watcher has the server's current head. */
async function watchersAtHead(sessionId: string, watchers: readonly ChaosClient[]) {
  const head = await serverHead(stack, sessionId);
  await Promise.all(watchers.map((w) => w.until(head)));
  return head;
}

/** A small seeded PRNG (mulberry32), so a failing run's drop pattern can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('chaos', () => {
  it('a runner killed with SIGKILL mid-build and restarted completes the session with no event twice', async () => {
    const sessionId = randomUUID();
    const lease = await leaseBuild(stack, sessionId);
    const watchers = await joinedClients(stack, sessionId, 3);
    const outbox = join(dir, `outbox-${sessionId}.db`);
    const script = join(ROOT, 'bench', 'chaos', 'producer-process.ts');
    const args = [ingestUrl(lease.ingestPath), stack.config.token, lease.buildId, outbox, '1'];
    // The first producer holds after 100 of the recording's 209 lines, all acknowledged.
    const first = startTsx(script, [...args, '100'], { cwd: ROOT, stdin: true });
    const held = Number(/\d+/.exec(await first.waitForOutput(/held at \d+/))![0]);
    expect(held).toBeGreaterThan(0);
    const head = await watchersAtHead(sessionId, watchers);
    first.kill('SIGKILL');
    await first.exited;
    expect(first.output()).not.toContain('done');
    const second = startTsx(script, args, { cwd: ROOT });
    expect(await second.exited, second.output()).toBe(0);
    expect(second.output()).toContain('epoch 2');
    const state = await expectConsistent(stack, sessionId, watchers);
    expect(state.headSeq).toBeGreaterThan(head);
    // Every tool call once, every message's text once: a resent event would double them.
    const ids = state.toolCalls.map((t) => t.toolCallId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(state.turns.every((t) => t.status !== 'running')).toBe(true);
    for (const w of watchers) w.stop();
  });

  it('workerd killed mid-build and restarted: producer and clients reconnect and catch up, nothing lost', async () => {
    const sessionId = randomUUID();
    const producer = await leasedProducer(sessionId, { min: 100, max: 1000 });
    const watchers = await joinedClients(stack, sessionId, 5);
    producer.append([START]);
    appendDeltas(producer, 0, 2000);
    await producer.flush();
    const head = await watchersAtHead(sessionId, watchers);
    // These may or may not be on the wire when workerd dies; either way they must arrive once.
    appendDeltas(producer, 2000, 3000);
    await stack.stop(true);
    // Appended while the server is gone: the producer holds them until it is back.
    appendDeltas(producer, 3000, 6000);
    producer.append([FINISH]);
    await stack.restart();
    await producer.flush();
    producer.close();
    const state = await expectConsistent(stack, sessionId, watchers);
    expect(state.headSeq).toBeGreaterThan(head);
    expect(state.messages.find((m) => m.messageId === 'm1')?.text).toBe(textOf(6000));
    expect(watchers.every((w) => w.connections >= 2 && w.caughtUp >= 2)).toBe(true);
    for (const w of watchers) w.stop();
  });

  it('50 subscribers that drop their sockets at random moments during a 20,000-event replay all end with the server state', async () => {
    const sessionId = randomUUID();
    const producer = await leasedProducer(sessionId);
    const watchers = await joinedClients(stack, sessionId, 50);
    const random = prng(15);
    let drops = 0;
    producer.append([START]);
    // 40 drops, one after each acknowledged 500 deltas, of a random client with a socket open
    // (not one already closing): the stream is provably mid-way at each, and with 50 clients at
    // most 39 are down, so there is always one to drop. Each drop is one reconnect.
    for (let i = 0; i < 20_000; i += 500) {
      appendDeltas(producer, i, i + 500);
      await producer.flush();
      const open = watchers.filter((w) => w.droppable);
      if (open[Math.floor(random() * open.length)]?.drop()) drops++;
    }
    producer.append([FINISH]);
    await producer.flush();
    producer.close();
    expect(drops).toBe(40);
    const state = await expectConsistent(stack, sessionId, watchers);
    expect(state.messages.find((m) => m.messageId === 'm1')?.text).toBe(textOf(20_000));
    expect(watchers.reduce((n, w) => n + w.connections, 0)).toBeGreaterThanOrEqual(50 + drops);
    for (const w of watchers) w.stop();
  });

  it('D1 writes failing for a stretch mid-build are retried until D1 matches the log', async () => {
    const sessionId = randomUUID();
    const producer = await leasedProducer(sessionId);
    const watchers = await joinedClients(stack, sessionId, 2);
    try {
      producer.append([START]);
      appendDeltas(producer, 0, 1000);
      await producer.flush();
      await fetch(`${stack.server}/__bench/d1?fail=1`);
      appendDeltas(producer, 1000, 2000);
      await producer.flush();
      // While D1 refuses, the write-through records the error and falls behind the log.
      const failing = await pollUntil('the D1 fault seen', async () => {
        const health = await api<{ d1LastError: string | null; d1LagEvents: number }>(
          stack,
          `/api/sessions/${sessionId}/health`,
        );
        return health.d1LastError?.includes('fault injected') ? health : undefined;
      });
      expect(failing.d1LagEvents).toBeGreaterThan(0);
    } finally {
      await fetch(`${stack.server}/__bench/d1?fail=0`);
    }
    // Nothing new is committed: only the write-through's own retry can bring D1 level.
    await d1CaughtUp(stack, sessionId);
    producer.append([FINISH]);
    await producer.flush();
    producer.close();
    await expectConsistent(stack, sessionId, watchers);
    for (const w of watchers) w.stop();
  });

  it('a subscriber that reads slower than the stream ends complete', async () => {
    const sessionId = randomUUID();
    const producer = await leasedProducer(sessionId);
    const [fast, slow] = await joinedClients(stack, sessionId, 2);
    // Joined, then it stops reading: TCP buffers fill and the server must hold on.
    slow!.pauseReading();
    const joinedAt = slow!.headSeq;
    producer.append([START]);
    appendDeltas(producer, 0, 10_000);
    producer.append([FINISH]);
    await producer.flush();
    producer.close();
    const head = await serverHead(stack, sessionId);
    await fast!.until(head);
    // It has read nothing since it stopped reading; the fast one has it all.
    expect(slow!.headSeq).toBe(joinedAt);
    expect(head).toBeGreaterThan(joinedAt);
    slow!.resumeReading();
    await expectConsistent(stack, sessionId, [fast!, slow!]);
    fast!.stop();
    slow!.stop();
  });
});
