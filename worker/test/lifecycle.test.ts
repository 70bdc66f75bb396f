import { env, runInDurableObject } from 'cloudflare:test';
import type { RunnerEventBody } from '@kiln/protocol';
import { describe, expect, it, vi } from 'vitest';
import type { SessionObject } from '../src/session/session-object';
import { sweepStuckSessions } from '../src/session/sweep';
import { api, connect, connectProducer, openBuild, produce, stateOf } from './helpers';

// LEASE_MS, LEASE_GRACE_MS and INTERRUPT_GRACE_MS are 1500, 1500 and 500 ms in tests
// (worker/vitest.config.ts), so these wait seconds, not minutes.

const todos = (statuses: ('pending' | 'in_progress' | 'completed')[]) =>
  statuses.map((status, i) => ({ content: `Todo ${i}`, activeForm: `Doing ${i}`, status }));

function startTurn(buildId: string, turnId = 'turn-1'): RunnerEventBody[] {
  return [
    { type: 'turn-started', turnId, buildId, runnerId: 'r', agent: 'demo', model: 'm' },
    {
      type: 'tool-input-available',
      toolCallId: 'running',
      toolName: 'Bash',
      input: { command: 'sleep' },
    },
  ];
}

async function buildStatus(sessionId: string, buildId: string): Promise<string> {
  return runInDurableObject(env.SESSIONS.getByName(sessionId), (_: SessionObject, state) =>
    String(
      state.storage.sql
        .exec<{ status: string }>('SELECT status FROM builds WHERE build_id = ?', buildId)
        .one().status,
    ),
  );
}

/**
 * The build's status; once it is `expired`, its grace is held open for a minute in the same step
 * (the object's alarm cannot run in between), so a test that comes back "within the grace" does
 * not race the 1.5 s grace on a loaded machine.
 */
async function holdGrace(sessionId: string, buildId: string): Promise<string> {
  return runInDurableObject(env.SESSIONS.getByName(sessionId), (_: SessionObject, state) => {
    const status = String(
      state.storage.sql
        .exec<{ status: string }>('SELECT status FROM builds WHERE build_id = ?', buildId)
        .one().status,
    );
    if (status === 'expired') {
      state.storage.sql.exec(
        'UPDATE builds SET lease_expires_at = ? WHERE build_id = ?',
        Date.now() + 60_000,
        buildId,
      );
    }
    return status;
  });
}

/** The build's producer epoch and acked producer seq, which its lease's timers never change. */
async function buildProgress(sessionId: string, buildId: string) {
  return runInDurableObject(env.SESSIONS.getByName(sessionId), (_: SessionObject, state) => {
    const row = state.storage.sql
      .exec<{ epoch: number; acked: number }>(
        'SELECT epoch, acked_producer_seq AS acked FROM builds WHERE build_id = ?',
        buildId,
      )
      .one();
    return { epoch: row.epoch, ackedProducerSeq: row.acked };
  });
}

describe('lifecycle', () => {
  it('a runner silent past its lease and grace period fails its turn as runner-lost, once', async () => {
    const { account, sessionId, buildId, producer } = await openBuild();
    await produce(producer, 1, startTurn(buildId));
    producer.close();
    await vi.waitFor(async () => expect(await buildStatus(sessionId, buildId)).toBe('expired'), {
      timeout: 5000,
      interval: 100,
    });
    await vi.waitFor(
      async () => expect((await stateOf(sessionId, account.token)).status).toBe('failed'),
      { timeout: 5000, interval: 100 },
    );
    const state = await stateOf(sessionId, account.token);
    expect(state.turns).toMatchObject([{ status: 'failed', error: 'runner-lost' }]);
    expect(state.toolCalls[0]?.status).toBe('abandoned');
    expect(state.statusReason).toBe('runner-lost');
    // The lost build cannot come back.
    const late = await connectProducer(account, sessionId, buildId, 5);
    expect(late.frames[0]).toMatchObject({ type: 'error', code: 'no-lease', fatal: true });
    const finishes = (await (
      await api(`/api/sessions/${sessionId}/events`, account.token)
    ).json()) as { events: { type: string }[] };
    expect(finishes.events.filter((e) => e.type === 'turn-finished')).toHaveLength(1);
  });

  it('a turn whose todos are all completed is finalized as completed when its runner is lost', async () => {
    const { account, sessionId, buildId, producer } = await openBuild();
    await produce(producer, 1, [
      ...startTurn(buildId),
      { type: 'todos-updated', todos: todos(['completed', 'completed']) },
    ]);
    producer.close();
    await vi.waitFor(
      async () =>
        expect((await stateOf(sessionId, account.token)).turns[0]?.status).toBe('completed'),
      {
        timeout: 8000,
        interval: 100,
      },
    );
    expect((await stateOf(sessionId, account.token)).status).toBe('idle');
  });

  it('a runner that comes back within the grace period continues the same build', async () => {
    const { account, sessionId, buildId, producer } = await openBuild();
    await produce(producer, 1, startTurn(buildId));
    producer.close();
    await vi.waitFor(async () => expect(await holdGrace(sessionId, buildId)).toBe('expired'), {
      timeout: 5000,
      interval: 50,
    });
    const back = await connectProducer(account, sessionId, buildId, 2);
    expect(back.frames[0]).toEqual({ type: 'ready', ackedProducerSeq: 2 });
    await produce(back, 3, [
      {
        type: 'tool-output-available',
        toolCallId: 'running',
        output: 'ok',
        isError: false,
        truncated: false,
        durationMs: 1,
      },
      { type: 'turn-finished', turnId: 'turn-1', status: 'completed', durationMs: 10 },
    ]);
    const state = await stateOf(sessionId, account.token);
    expect(state.turns).toMatchObject([{ status: 'completed' }]);
    expect(state.toolCalls[0]?.status).toBe('done');
    // The same build went on under the new epoch (its lease may lapse again by now: the test
    // holds no producer any more, and the lease is 1.5 s).
    expect(await buildProgress(sessionId, buildId)).toEqual({ epoch: 2, ackedProducerSeq: 4 });
  });

  it('an interrupt reaches the runner, and the turn it ends is interrupted', async () => {
    const { account, sessionId, buildId, producer } = await openBuild();
    await produce(producer, 1, startTurn(buildId));
    const viewer = await connect(sessionId, 'ws', account.token);
    await viewer.waitForType('ready');
    viewer.send({ type: 'hello', lastSeq: 0 });
    viewer.send({ type: 'interrupt' });
    const [command] = await producer.waitForType('command');
    expect(command).toEqual({ type: 'command', command: { kind: 'interrupt' } });
    await produce(producer, 3, [
      { type: 'turn-finished', turnId: 'turn-1', status: 'interrupted', durationMs: 5 },
    ]);
    const state = await stateOf(sessionId, account.token);
    expect(state.status).toBe('interrupted');
    expect(state.turns[0]?.status).toBe('interrupted');
  });

  it('a runner that ignores an interrupt has its turn ended by the session, and its late finish is dropped', async () => {
    const { account, sessionId, buildId, producer } = await openBuild();
    await produce(producer, 1, startTurn(buildId));
    const viewer = await connect(sessionId, 'ws', account.token);
    await viewer.waitForType('ready');
    viewer.send({ type: 'interrupt' });
    await producer.waitForType('command');
    await vi.waitFor(
      async () => expect((await stateOf(sessionId, account.token)).status).toBe('interrupted'),
      { timeout: 5000, interval: 50 },
    );
    await produce(producer, 3, [
      { type: 'turn-finished', turnId: 'turn-1', status: 'completed', durationMs: 5 },
    ]);
    const events = (await (
      await api(`/api/sessions/${sessionId}/events`, account.token)
    ).json()) as { events: { type: string }[] };
    expect(events.events.filter((e) => e.type === 'turn-finished')).toHaveLength(1);
    expect((await stateOf(sessionId, account.token)).turns[0]?.status).toBe('interrupted');
  });

  it('the cron sweep fails a session active with no activity for five minutes, and leaves a fresh one alone', async () => {
    const stuck = await openBuild();
    await produce(stuck.producer, 1, startTurn(stuck.buildId));
    const fresh = await openBuild();
    await produce(fresh.producer, 1, startTurn(fresh.buildId));
    // Both D1 rows say active once the write-through has run.
    for (const s of [stuck, fresh]) {
      await vi.waitFor(async () =>
        expect((await env.SESSIONS.getByName(s.sessionId).getHealth()).d1LagEvents).toBe(0),
      );
    }
    const stuckState = await stateOf(stuck.sessionId, stuck.account.token);
    const sixMinutesLater = stuckState.updatedAt + 6 * 60_000;
    // Only the stuck session's D1 row is old enough; make the fresh one look recent.
    await env.DB.prepare('UPDATE generation_sessions SET updated_at = ? WHERE id = ?')
      .bind(sixMinutesLater, fresh.sessionId)
      .run();
    expect(await sweepStuckSessions(env, sixMinutesLater)).toBe(1);
    expect((await stateOf(stuck.sessionId, stuck.account.token)).turns[0]).toMatchObject({
      status: 'failed',
      error: 'stuck',
    });
    expect((await stateOf(fresh.sessionId, fresh.account.token)).turns[0]?.status).toBe('running');
    // Sweeping again finishes nothing twice.
    expect(await env.SESSIONS.getByName(stuck.sessionId).sweepIfStuck(sixMinutesLater)).toBe(false);
  });
});

describe('D1 outage', () => {
  it('a D1 that fails for a while loses nothing: the rows catch up when it recovers', async () => {
    const { sessionId, buildId, producer } = await openBuild();
    const stub = env.SESSIONS.getByName(sessionId);
    const failing = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === 'batch') return () => Promise.reject(new Error('D1_ERROR: injected outage'));
        const value = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await runInDurableObject(stub, (instance: SessionObject) => {
      (instance as unknown as { d1: D1Database }).d1 = failing;
    });
    await produce(producer, 1, [
      ...startTurn(buildId),
      { type: 'todos-updated', todos: todos(['in_progress', 'pending']) },
      {
        type: 'tool-output-available',
        toolCallId: 'running',
        output: 'done',
        isError: false,
        truncated: false,
        durationMs: 3,
      },
    ]);
    await vi.waitFor(
      async () => expect((await stub.getHealth()).d1LastError).toContain('injected outage'),
      { timeout: 5000 },
    );
    const during = await stub.getHealth();
    expect(during.d1LagEvents).toBe(during.headSeq);
    const platform = (await (await api('/api/health', 'test-operator-token')).json()) as {
      writeThrough: { worst: { sessionId: string; lagEvents: number }[] };
    };
    expect(platform.writeThrough.worst).toContainEqual(
      expect.objectContaining({ sessionId, lagEvents: during.headSeq }),
    );
    expect(
      await env.DB.prepare('SELECT COUNT(*) AS n FROM generation_tool_calls WHERE session_id = ?')
        .bind(sessionId)
        .first('n'),
    ).toBe(0);

    await runInDurableObject(stub, (instance: SessionObject) => {
      (instance as unknown as { d1: D1Database }).d1 = env.DB;
    });
    await vi.waitFor(async () => expect((await stub.getHealth()).d1LagEvents).toBe(0), {
      timeout: 10_000,
      interval: 100,
    });
    expect((await stub.getHealth()).d1LastError).toBeNull();
    const after = (await (await api('/api/health', 'test-operator-token')).json()) as {
      writeThrough: { worst: { sessionId: string }[] };
    };
    expect(after.writeThrough.worst.map((w) => w.sessionId)).not.toContain(sessionId);
    const calls = await env.DB.prepare(
      'SELECT tool_call_id, status, output FROM generation_tool_calls WHERE session_id = ?',
    )
      .bind(sessionId)
      .all();
    expect(calls.results).toEqual([{ tool_call_id: 'running', status: 'done', output: '"done"' }]);
    const todoRows = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM generation_todos WHERE session_id = ?',
    )
      .bind(sessionId)
      .first('n');
    expect(todoRows).toBe(2);
    expect(
      await env.DB.prepare('SELECT head_seq FROM generation_sessions WHERE id = ?')
        .bind(sessionId)
        .first('head_seq'),
    ).toBe(during.headSeq);
  });
});
