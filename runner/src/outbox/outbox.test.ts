import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RunnerEventBody } from '@kiln/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox } from './outbox';

let dir: string;
let file: string;
const open: Outbox[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-outbox-'));
  file = path.join(dir, 'outbox.db');
});
afterEach(async () => {
  for (const outbox of open.splice(0)) outbox.close();
  await rm(dir, { recursive: true, force: true });
});
async function openOutbox(): Promise<Outbox> {
  const outbox = await Outbox.open(file);
  open.push(outbox);
  return outbox;
}
const delta = (text: string): RunnerEventBody => ({
  type: 'text-delta',
  messageId: 'm',
  delta: text,
});

describe('Outbox', () => {
  it('gives each build contiguous producer seqs from 1 and returns events in order', async () => {
    const outbox = await openOutbox();
    expect(await outbox.append('b1', [delta('a'), delta('b')])).toEqual([1, 2]);
    expect(await outbox.append('b2', [delta('x')])).toEqual([1]);
    expect(await outbox.append('b1', [delta('c')])).toEqual([3]);
    expect(await outbox.append('b1', [])).toEqual([]);
    expect(await outbox.unacked('b1')).toEqual([
      { producerSeq: 1, event: delta('a') },
      { producerSeq: 2, event: delta('b') },
      { producerSeq: 3, event: delta('c') },
    ]);
    expect((await outbox.unacked('b1', 1, 1)).map((e) => e.producerSeq)).toEqual([2]);
  });

  it('keeps unacked events, seqs and epochs across closing and reopening the file', async () => {
    const first = await openOutbox();
    expect(await first.nextEpoch('b1')).toBe(1);
    await first.append('b1', [delta('a'), delta('b'), delta('c')]);
    await first.ack('b1', 1);
    first.close();
    open.length = 0;

    const second = await openOutbox();
    expect(await second.nextEpoch('b1')).toBe(2);
    expect((await second.unacked('b1')).map((e) => e.producerSeq)).toEqual([2, 3]);
    expect(await second.pendingBuilds()).toEqual([
      { buildId: 'b1', epoch: 2, ackedSeq: 1, firstSeq: 2, lastSeq: 3, count: 2 },
    ]);
    // Seqs continue after the restart; acking everything does not reset them.
    await second.ack('b1', 3);
    expect(await second.append('b1', [delta('d')])).toEqual([4]);
  });

  it('deletes everything at or below an ack, and lists only builds with events left', async () => {
    const outbox = await openOutbox();
    await outbox.append('b1', [delta('a'), delta('b'), delta('c')]);
    await outbox.append('b2', [delta('x')]);
    await outbox.ack('b1', 2);
    expect((await outbox.unacked('b1')).map((e) => e.producerSeq)).toEqual([3]);
    await outbox.ack('b1', 3);
    await outbox.ack('b1', 1); // a stale ack changes nothing
    expect(await outbox.unacked('b1')).toEqual([]);
    expect((await outbox.pendingBuilds()).map((b) => b.buildId)).toEqual(['b2']);
  });

  it('raises the epoch on every open and forgets a finished build', async () => {
    const outbox = await openOutbox();
    expect([
      await outbox.nextEpoch('b'),
      await outbox.nextEpoch('b'),
      await outbox.nextEpoch('b'),
    ]).toEqual([1, 2, 3]);
    await outbox.append('b', [delta('a')]);
    await outbox.forget('b');
    expect(await outbox.pendingBuilds()).toEqual([]);
    expect(await outbox.nextEpoch('b')).toBe(1);
  });

  it('is consistent and contiguous after a writer process is killed with SIGKILL mid-append', async () => {
    const fixture = path.join(import.meta.dirname, 'outbox-writer.fixture.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, file, 'b1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Wait until the writer has committed at least 900 events, then kill it mid-loop.
    let lastReported = 0;
    await new Promise<void>((resolve, reject) => {
      let buffer = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          if (line.startsWith('epoch')) continue;
          lastReported = Number(line);
          if (lastReported >= 900) resolve();
        }
      });
      child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const outbox = await openOutbox();
    const entries = await outbox.unacked('b1', 0, 1_000_000);
    const seqs = entries.map((e) => e.producerSeq);
    // Everything the writer reported as appended is there, and nothing is missing in between.
    expect(seqs.length).toBeGreaterThanOrEqual(lastReported);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    // A batch is all or nothing: batches have 1, 2, 3, 4, 5, 1, 2 … events.
    const batches = new Map<string, number>();
    for (const { event } of entries) {
      if (event.type !== 'text-delta') throw new Error('unexpected event');
      const batch = event.delta.split(' ')[1] ?? '';
      batches.set(batch, (batches.get(batch) ?? 0) + 1);
    }
    for (const [batch, count] of batches)
      expect(count, `batch ${batch}`).toBe((Number(batch) % 5) + 1);
    // The next producer continues after the last stored seq with a higher epoch.
    expect(await outbox.nextEpoch('b1')).toBe(2);
    expect(await outbox.append('b1', [delta('after')])).toEqual([seqs.length + 1]);
  });
});
