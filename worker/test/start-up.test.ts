import { env, evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { SessionObject } from '../src/session/session-object';

describe('SessionDO start-up', () => {
  it('a start-up that fails reaches the caller, and the next call on the same object tries again', async () => {
    const sessionId = crypto.randomUUID();
    const stub = env.SESSIONS.getByName(sessionId);
    await stub.init(sessionId, 'project-1');
    // Corrupt the newest snapshot, so loading the state throws on the next start.
    await runInDurableObject(stub, (_: SessionObject, state) => {
      state.storage.sql.exec("INSERT INTO snapshots (seq, state) VALUES (1, 'not json')");
    });
    await evictDurableObject(stub).catch(() => undefined);
    // Called inside the object (not over RPC, whose rejections the test pool reports as uncaught).
    await runInDurableObject(stub, async (instance: SessionObject, state) => {
      await expect(instance.getState()).rejects.toThrow(/JSON/);
      // Not remembered as started, and the object was not reset: it fails again while the row
      // is bad, then starts once it is repaired.
      await expect(instance.getState()).rejects.toThrow(/JSON/);
      state.storage.sql.exec('DELETE FROM snapshots');
      expect(await instance.getState()).toMatchObject({ sessionId, headSeq: 0 });
    });
    expect(await stub.getState()).toMatchObject({ sessionId, projectId: 'project-1' });
  });
});
