import { env, evictDurableObject, listDurableObjectIds, runInDurableObject } from 'cloudflare:test';
import { seqRange } from '@kiln/protocol/testing';
import { describe, expect, it } from 'vitest';
import type { SessionObject } from '../src/session/session-object';
import { openBuild, produce, renames, seedAccount, subscribe, type TestSocket } from './helpers';

// The test config sets SHARD_THRESHOLD = 2 and SHARD_CAPACITY = 2: the first two subscribers
// are the session's own, the rest go to shards of two.

function seqs(socket: TestSocket): number[] {
  return socket.events().map((e) => e.seq);
}

describe('viewer shards', () => {
  it('subscribers past the threshold are served by shards with the same order, resume and presence', async () => {
    const { account, sessionId, producer } = await openBuild();
    await produce(producer, 1, renames(0, 20));
    const lastSeqs = [0, 0, 0, 5, 20, 0, 12];
    const sockets: TestSocket[] = [];
    for (const lastSeq of lastSeqs)
      sockets.push(await subscribe(sessionId, account.token, lastSeq));
    // Shards exist: the session handed them sockets.
    const shardIds = await listDurableObjectIds(env.VIEWER_SHARDS);
    expect(shardIds.length).toBeGreaterThanOrEqual(3);
    // Everyone sees everyone.
    for (const s of sockets) {
      expect((await s.waitForPresence(7)).viewers).toHaveLength(7);
    }
    // Live events through the session and every shard.
    await produce(producer, 21, renames(20, 5));
    await produce(producer, 26, renames(25, 5));
    for (const [i, s] of sockets.entries()) {
      await s.waitFor(() => seqs(s).at(-1) === 30, `socket ${i} at 30`);
      expect(seqs(s)).toEqual(seqRange(lastSeqs[i]! + 1, 30));
    }
  });

  it('a shard socket past head gets ahead-of-head and a snapshot; a far-behind one a snapshot', async () => {
    const { account, sessionId, producer } = await openBuild();
    await produce(producer, 1, renames(0, 3));
    await subscribe(sessionId, account.token, 3);
    await subscribe(sessionId, account.token, 3);
    const ahead = await subscribe(sessionId, account.token, 50);
    const [error] = await ahead.waitForType('error');
    expect(error).toMatchObject({ code: 'ahead-of-head', fatal: false });
    const [snapshot] = await ahead.waitForType('snapshot');
    expect(snapshot).toMatchObject({ seq: 3, state: { headSeq: 3, title: 't2' } });
    await produce(producer, 4, renames(3, 1));
    await ahead.waitFor(() => seqs(ahead).at(-1) === 4, 'live after snapshot');
    expect(seqs(ahead)).toEqual([4]);
  });

  it('a shard that misses a delivery fetches the gap from the session before passing on live events', async () => {
    const { account, sessionId, producer } = await openBuild();
    await produce(producer, 1, renames(0, 2));
    await subscribe(sessionId, account.token, 0);
    await subscribe(sessionId, account.token, 0);
    const sharded = await subscribe(sessionId, account.token, 0);
    await sharded.waitFor(() => seqs(sharded).length === 2);
    const session = env.SESSIONS.getByName(sessionId);
    // Drop the next delivery to the shards, as a failed RPC would.
    await runInDurableObject(session, (instance: SessionObject) => {
      const shards = (instance as unknown as { shards: { deliver: (events: unknown[]) => void } })
        .shards;
      const original = shards.deliver.bind(shards);
      shards.deliver = () => {
        shards.deliver = original;
      };
    });
    await produce(producer, 3, renames(2, 3));
    await produce(producer, 6, renames(5, 2));
    await sharded.waitFor(() => seqs(sharded).at(-1) === 7, 'caught up through the gap');
    expect(seqs(sharded)).toEqual(seqRange(1, 7));
  });

  it('a shard evicted with its sockets hibernated keeps serving them in order', async () => {
    const { account, sessionId, producer } = await openBuild();
    await produce(producer, 1, renames(0, 2));
    await subscribe(sessionId, account.token, 0);
    await subscribe(sessionId, account.token, 0);
    const sharded = await subscribe(sessionId, account.token, 0);
    await sharded.waitFor(() => seqs(sharded).length === 2);
    for (const id of await listDurableObjectIds(env.VIEWER_SHARDS)) {
      await evictDurableObject(env.VIEWER_SHARDS.get(id)).catch(() => undefined);
    }
    await produce(producer, 3, renames(2, 2));
    await sharded.waitFor(() => seqs(sharded).at(-1) === 4, 'after eviction');
    expect(seqs(sharded)).toEqual(seqRange(1, 4));
  });

  it('a shard socket can send a prompt and interrupt, and a viewer cannot', async () => {
    const { account, sessionId, buildId, producer } = await openBuild();
    await produce(producer, 1, [
      { type: 'turn-started', turnId: 't', buildId, runnerId: 'r', agent: 'demo', model: 'm' },
    ]);
    await subscribe(sessionId, account.token, 0);
    await subscribe(sessionId, account.token, 0);
    const sharded = await subscribe(sessionId, account.token, 0);
    await sharded.waitFor(() => seqs(sharded).length === 1);
    sharded.send({ type: 'send', clientMessageId: 'c1', text: 'make it blue' });
    await sharded.waitFor(() => sharded.events().some((e) => e.type === 'user-message'), 'prompt');
    sharded.send({ type: 'interrupt' });
    const commands = await producer.waitForType('command', 2);
    expect(commands.map((c) => (c.command as { kind: string }).kind)).toEqual([
      'user-message',
      'interrupt',
    ]);
    const viewer = await seedAccount('viewer', account.projectId);
    const watcher = await subscribe(sessionId, viewer.token, 0);
    watcher.send({ type: 'send', clientMessageId: 'c2', text: 'nope' });
    const [refusal] = await watcher.waitForType('error');
    expect(refusal).toMatchObject({ code: 'forbidden' });
  });
});
