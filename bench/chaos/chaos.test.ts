import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestProducer } from '../../runner/src/ingest/producer';
import { ROOT } from '../../scripts/dev-stack.ts';
import { type BenchStack, startBenchStack } from '../src/stack';
import { leaseBuild } from '../src/systems/kiln';
import { api, ChaosClient, expectConsistent } from './client';

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
const delta = (i: number) => ({ type: 'text-delta' as const, messageId: 'm1', delta: `d${i} ` });

/** Appends `count` deltas, `perTick` per timer tick, so faults can land mid-stream. */
async function stream(producer: IngestProducer, count: number, perTick: number) {
  producer.append([{ type: 'message-start', messageId: 'm1', role: 'assistant' }]);
  for (let i = 0; i < count; i += perTick) {
    producer.append(Array.from({ length: Math.min(perTick, count - i) }, (_, j) => delta(i + j)));
    await new Promise((r) => setTimeout(r, 1));
  }
  producer.append([{ type: 'message-finish', messageId: 'm1', finishReason: 'stop' }]);
  await producer.flush();
}

async function clients(sessionId: string, n: number) {
  const list = Array.from({ length: n }, () => new ChaosClient(stack, sessionId));
  for (const c of list) c.connect();
  return list;
}

function runProducer(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench', 'chaos', 'producer-process.ts'), ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (c) => (out += c));
  child.stderr?.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

describe('chaos', () => {
  it('a runner killed with SIGKILL mid-build and restarted completes the session with no event twice', async () => {
    const sessionId = randomUUID();
    const lease = await leaseBuild(stack, sessionId);
    const watchers = await clients(sessionId, 3);
    const outbox = join(dir, `outbox-${sessionId}.db`);
    const args = [ingestUrl(lease.ingestPath), stack.config.token, lease.buildId, outbox, '1'];
    const first = runProducer(args);
    // Kill once some, not all, of the run is committed.
    for (let i = 0; i < 400; i++) {
      const health = await api<{ headSeq: number }>(stack, `/api/sessions/${sessionId}/health`);
      if (health.headSeq > 50) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    first.child.kill('SIGKILL');
    await first.exited;
    expect(first.output()).not.toContain('done');
    const second = runProducer(args);
    expect(await second.exited, second.output()).toBe(0);
    expect(second.output()).toContain('epoch 2');
    const state = await expectConsistent(stack, sessionId, watchers);
    // Every tool call once, every message's text once: a resent event would double them.
    const ids = state.toolCalls.map((t) => t.toolCallId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(state.turns.every((t) => t.status !== 'running')).toBe(true);
    for (const w of watchers) w.stop();
  });

  it('workerd killed mid-build and restarted: producer and clients reconnect and catch up, nothing lost', async () => {
    const sessionId = randomUUID();
    const lease = await leaseBuild(stack, sessionId);
    const watchers = await clients(sessionId, 5);
    const producer = new IngestProducer({
      url: ingestUrl(lease.ingestPath),
      token: stack.config.token,
      buildId: lease.buildId,
      minRetryDelayMs: 100,
      maxRetryDelayMs: 1000,
    });
    const done = stream(producer, 6000, 5);
    for (let i = 0; i < 400; i++) {
      const health = await api<{ headSeq: number }>(
        stack,
        `/api/sessions/${sessionId}/health`,
      ).catch(() => ({ headSeq: 0 }));
      if (health.headSeq > 300) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await stack.restart(true);
    await done;
    producer.close();
    const state = await expectConsistent(stack, sessionId, watchers);
    const text = state.messages.find((m) => m.messageId === 'm1')?.text ?? '';
    expect(text).toBe(Array.from({ length: 6000 }, (_, i) => `d${i} `).join(''));
    expect(watchers.every((w) => w.connections >= 2)).toBe(true);
    for (const w of watchers) w.stop();
  });

  it('50 subscribers that drop their sockets at random moments during a 20,000-event replay all end with the server state', async () => {
    const sessionId = randomUUID();
    const lease = await leaseBuild(stack, sessionId);
    const watchers = await clients(sessionId, 50);
    const producer = new IngestProducer({
      url: ingestUrl(lease.ingestPath),
      token: stack.config.token,
      buildId: lease.buildId,
    });
    let drops = 0;
    const chaos = setInterval(() => {
      const victim = watchers[Math.floor(Math.random() * watchers.length)]!;
      victim.drop();
      drops++;
    }, 20);
    try {
      await stream(producer, 20_000, 20);
    } finally {
      clearInterval(chaos);
      producer.close();
    }
    expect(drops).toBeGreaterThan(20);
    const state = await expectConsistent(stack, sessionId, watchers);
    expect(state.messages.find((m) => m.messageId === 'm1')?.text.length).toBeGreaterThan(
      20_000 * 3,
    );
    for (const w of watchers) w.stop();
  });

  it('D1 writes failing for a stretch mid-build are retried until D1 matches the log', async () => {
    const sessionId = randomUUID();
    const lease = await leaseBuild(stack, sessionId);
    const watchers = await clients(sessionId, 2);
    const producer = new IngestProducer({
      url: ingestUrl(lease.ingestPath),
      token: stack.config.token,
      buildId: lease.buildId,
    });
    try {
      await fetch(`${stack.server}/__bench/d1?fail=1`);
      const first = stream(producer, 3000, 10);
      let sawError = false;
      for (let i = 0; i < 200 && !sawError; i++) {
        const health = await api<{ d1LastError: string | null }>(
          stack,
          `/api/sessions/${sessionId}/health`,
        );
        sawError = health.d1LastError?.includes('fault injected') ?? false;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(sawError).toBe(true);
      await first;
    } finally {
      await fetch(`${stack.server}/__bench/d1?fail=0`);
      producer.close();
    }
    const lagging = await api<{ d1LagEvents: number }>(stack, `/api/sessions/${sessionId}/health`);
    expect(lagging.d1LagEvents).toBeGreaterThan(0);
    await expectConsistent(stack, sessionId, watchers);
    for (const w of watchers) w.stop();
  });

  it('a subscriber that reads slower than the stream ends complete', async () => {
    const sessionId = randomUUID();
    const lease = await leaseBuild(stack, sessionId);
    const [fast, slow] = await clients(sessionId, 2);
    const producer = new IngestProducer({
      url: ingestUrl(lease.ingestPath),
      token: stack.config.token,
      buildId: lease.buildId,
    });
    // Wait for its socket, then stop reading it: TCP buffers fill and the server must hold on.
    for (let i = 0; i < 100 && slow!.ws?.readyState !== 1; i++)
      await new Promise((r) => setTimeout(r, 20));
    const socket = (slow!.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const done = stream(producer, 10_000, 20).finally(() => producer.close());
    await new Promise((r) => setTimeout(r, 3000));
    expect(slow!.headSeq).toBeLessThan(fast!.headSeq);
    socket.resume();
    await done;
    await expectConsistent(stack, sessionId, [fast!, slow!]);
    fast!.stop();
    slow!.stop();
  });
});
