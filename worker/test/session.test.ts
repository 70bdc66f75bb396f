import { env } from 'cloudflare:test';
import { applyEvents, createSessionState, type SessionEvent } from '@kiln/protocol';
import { sampleTurn } from '@kiln/protocol/testing';
import { describe, expect, it, vi } from 'vitest';
import {
  api,
  connect,
  connectProducer,
  leaseBuild,
  logOf,
  openBuild,
  produce,
  seedAccount,
  stateOf,
  textDeltas,
} from './helpers';

/** A session with the sample turn committed; returns its id and the account. */
async function sessionWithSample() {
  const build = await openBuild();
  await produce(build.producer, 1, sampleTurn(build.buildId));
  return build;
}

describe('session log and subscribers', () => {
  it('several subscribers receive the same events in the same order, each exactly once', async () => {
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    const { buildId } = await leaseBuild(account, sessionId);
    const subscribers = await Promise.all(
      [1, 2, 3].map(() => connect(sessionId, 'ws', account.token)),
    );
    for (const s of subscribers) {
      await s.waitForType('ready');
      s.send({ type: 'hello', lastSeq: 0 });
    }
    const producer = await connectProducer(account, sessionId, buildId);
    const events = sampleTurn(buildId);
    // Three frames, so live batches interleave with nothing else.
    await produce(producer, 1, events.slice(0, 5));
    await produce(producer, 6, events.slice(5, 10));
    await produce(producer, 11, events.slice(10));
    const head = (await stateOf(sessionId, account.token)).headSeq;
    for (const s of subscribers) await s.waitFor(() => s.events().length >= head, `${head} events`);
    const orders = subscribers.map((s) => s.events().map((e) => `${e.seq}:${e.type}`));
    expect(orders[0]).toEqual(orders[1]);
    expect(orders[0]).toEqual(orders[2]);
    expect(orders[0]!.map((o) => Number(o.split(':')[0]))).toEqual(
      Array.from({ length: head }, (_, i) => i + 1),
    );
  });

  it('a subscriber resuming from 0, a middle seq, head or past head gets exactly what it lacks', async () => {
    const { account, sessionId } = await sessionWithSample();
    const log = await logOf(sessionId, account.token);
    const head = log.length;
    expect(head).toBeGreaterThan(5);

    for (const lastSeq of [0, 6, head]) {
      const s = await connect(sessionId, 'ws', account.token);
      const [ready] = await s.waitForType('ready');
      expect(ready).toMatchObject({ sessionId, headSeq: head, protocolVersion: 1 });
      s.send({ type: 'hello', lastSeq });
      // A ping the object itself answers (not the exact auto-response text), so its pong comes
      // after every catch-up frame: a barrier proving nothing more was sent.
      s.send('{ "type": "ping" }');
      await s.waitForType('pong');
      expect(s.events().map((e) => e.seq)).toEqual(log.slice(lastSeq).map((e) => e.seq));
      expect(s.frames.filter((f) => f.type === 'snapshot' || f.type === 'error')).toEqual([]);
      s.close();
    }

    const ahead = await connect(sessionId, 'ws', account.token);
    await ahead.waitForType('ready');
    ahead.send({ type: 'hello', lastSeq: head + 10 });
    const [error] = await ahead.waitForType('error');
    expect(error).toMatchObject({ code: 'ahead-of-head', fatal: false });
    const [snapshot] = await ahead.waitForType('snapshot');
    expect(snapshot).toMatchObject({ seq: head });
    expect(ahead.events()).toEqual([]);
  });

  it('live events after a resume continue with no gap and no repeat', async () => {
    const { account, sessionId, producer } = await sessionWithSample();
    const head = (await stateOf(sessionId, account.token)).headSeq;
    const s = await connect(sessionId, 'ws', account.token);
    await s.waitForType('ready');
    s.send({ type: 'hello', lastSeq: 3 });
    await s.waitFor(() => s.events().length === head - 3, 'catch-up');
    await produce(producer, sampleTurn('x').length + 1, [
      { type: 'session-renamed', title: 'Renamed' },
    ]);
    await s.waitFor(() => s.events().length === head - 2, 'live event');
    expect(s.events().map((e) => e.seq)).toEqual(Array.from({ length: head - 2 }, (_, i) => i + 4));
  });

  it('GET /events pages through the log and /state equals the reducer over it', async () => {
    const { account, sessionId } = await sessionWithSample();
    const first = await api(`/api/sessions/${sessionId}/events?after=0&limit=4`, account.token);
    const page = (await first.json()) as {
      events: SessionEvent[];
      headSeq: number;
      nextAfter: number | null;
    };
    expect(page.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(page.nextAfter).toBe(4);
    const log = await logOf(sessionId, account.token);
    const state = await stateOf(sessionId, account.token);
    const reduced = applyEvents(createSessionState(sessionId, account.projectId), log);
    expect(state).toEqual(reduced);
    expect(
      state.toolCalls.map((t) => [t.toolCallId, t.status, t.todoIndex, t.parentToolCallId]),
    ).toEqual([
      ['t1', 'done', 0, undefined],
      ['t2', 'abandoned', 0, undefined],
      ['t3', 'done', 0, 't2'],
      ['t4', 'abandoned', 1, undefined],
    ]);
    const bad = await api(`/api/sessions/${sessionId}/events?after=-1`, account.token);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'bad-request' } });
  });

  it('consecutive text deltas of one message in one frame become one event, the same in storage and for every subscriber', async () => {
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    const { buildId } = await leaseBuild(account, sessionId);
    // Three subscribers: two on the session itself, one through a viewer shard (test config).
    const subscribers = await Promise.all(
      [1, 2, 3].map(() => connect(sessionId, 'ws', account.token)),
    );
    for (const s of subscribers) {
      await s.waitForType('ready');
      s.send({ type: 'hello', lastSeq: 0 });
    }
    const producer = await connectProducer(account, sessionId, buildId);
    await produce(producer, 1, [
      ...textDeltas('m1', ['a', 'b', 'c']),
      { type: 'reasoning-delta', messageId: 'm1', delta: 'x' },
      ...textDeltas('m1', ['d', 'e']),
      ...textDeltas('m2', ['f']),
    ]);
    const log = await logOf(sessionId, account.token);
    const stored = log.map((e) => [e.type, 'delta' in e ? e.delta : undefined]);
    expect(stored).toEqual([
      ['text-delta', 'abc'],
      ['reasoning-delta', 'x'],
      ['text-delta', 'de'],
      ['text-delta', 'f'],
    ]);
    for (const s of subscribers) {
      await s.waitFor(() => s.events().length === 4, 'four events');
      expect(s.events()).toEqual(log);
    }
  });
});

describe('idempotent producer', () => {
  it('a duplicate producer seq is dropped and acknowledged again', async () => {
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    const { buildId } = await leaseBuild(account, sessionId);
    const producer = await connectProducer(account, sessionId, buildId);
    expect(producer.frames[0]).toEqual({ type: 'ready', ackedProducerSeq: 0 });
    const turn = sampleTurn(buildId);
    await produce(producer, 1, turn.slice(0, 3));
    const before = await logOf(sessionId, account.token);
    // Resend 2..4: 2 and 3 are duplicates, 4 is new.
    await produce(producer, 2, turn.slice(1, 4));
    const after = await logOf(sessionId, account.token);
    expect(after).toHaveLength(before.length + 1);
    // A frame entirely of duplicates is acked with the current high-water mark.
    producer.send({ type: 'events', firstProducerSeq: 1, events: turn.slice(0, 2) });
    await producer.waitFor((f) => f.filter((x) => x.type === 'ack').length === 3, 'third ack');
    expect(producer.frames.at(-1)).toEqual({ type: 'ack', producerSeq: 4 });
    expect(await logOf(sessionId, account.token)).toHaveLength(after.length);
  });

  it('a frame that skips producer seqs is refused with the expected seq and nothing is stored', async () => {
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    const { buildId } = await leaseBuild(account, sessionId);
    const producer = await connectProducer(account, sessionId, buildId);
    const turn = sampleTurn(buildId);
    await produce(producer, 1, turn.slice(0, 2));
    producer.send({ type: 'events', firstProducerSeq: 5, events: turn.slice(4, 6) });
    const [error] = await producer.waitForType('error');
    expect(error).toMatchObject({ code: 'producer-gap', expectedProducerSeq: 3, fatal: false });
    expect(await logOf(sessionId, account.token)).toHaveLength(2);
  });

  it('a reconnecting producer is told what is durable and a stale epoch is fenced off', async () => {
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    const { buildId } = await leaseBuild(account, sessionId);
    const first = await connectProducer(account, sessionId, buildId, 1);
    await produce(first, 1, sampleTurn(buildId).slice(0, 3));
    const second = await connectProducer(account, sessionId, buildId, 2);
    expect(second.frames[0]).toEqual({ type: 'ready', ackedProducerSeq: 3 });
    await first.waitFor(() => first.closed !== undefined, 'old producer closed');
    expect(first.frames.at(-1)).toMatchObject({ type: 'error', code: 'stale-epoch', fatal: true });
    const zombie = await connectProducer(account, sessionId, buildId, 1);
    expect(zombie.frames[0]).toMatchObject({ type: 'error', code: 'stale-epoch', fatal: true });
  });

  it('an ingest hello for a build not leased to the caller is refused', async () => {
    const owner = await seedAccount();
    const editor = await seedAccount('editor', owner.projectId);
    const sessionId = crypto.randomUUID();
    const { buildId } = await leaseBuild(owner, sessionId);
    const other = await connectProducer(editor, sessionId, buildId);
    expect(other.frames[0]).toMatchObject({ type: 'error', code: 'no-lease', fatal: true });
    const unknown = await connectProducer(owner, sessionId, 'no-such-build');
    expect(unknown.frames[0]).toMatchObject({ type: 'error', code: 'no-lease', fatal: true });
  });
});

describe('bad input', () => {
  it('a malformed frame gets an error frame and changes nothing; repeated bad frames close with 1008', async () => {
    const { account, sessionId, producer } = await sessionWithSample();
    const before = await logOf(sessionId, account.token);
    const bad = [
      'not json',
      '{"type":"events","firstProducerSeq":16}',
      JSON.stringify({
        type: 'events',
        firstProducerSeq: 16,
        events: [{ type: 'text-delta', messageId: 'm1' }],
      }),
      JSON.stringify({
        type: 'events',
        firstProducerSeq: 16,
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
        firstProducerSeq: 16,
        events: [
          {
            type: 'tool-output-available',
            toolCallId: 't9',
            output: 'x'.repeat(40_000),
            isError: false,
            truncated: false,
            durationMs: 1,
          },
        ],
      }),
    ];
    for (const frame of bad) producer.send(frame);
    const errors = await producer.waitForType('error', bad.length);
    expect(errors.map((e) => e.code)).toEqual([
      'bad-frame',
      'bad-frame',
      'bad-frame',
      'bad-frame',
      'event-too-large',
    ]);
    expect(errors.every((e) => e.fatal === false)).toBe(true);
    expect(await logOf(sessionId, account.token)).toEqual(before);

    const subscriber = await connect(sessionId, 'ws', account.token);
    await subscriber.waitForType('ready');
    for (let i = 0; i < 11; i++) subscriber.send({ type: 'hello', lastSeq: -1 });
    await subscriber.waitFor(() => subscriber.closed !== undefined, 'close');
    expect(subscriber.closed?.code).toBe(1008);
    expect(subscriber.frames.at(-1)).toMatchObject({ type: 'error', fatal: true });
    expect(await logOf(sessionId, account.token)).toEqual(before);
  });
});

describe('D1 write-through', () => {
  it('after the alarm runs, the D1 rows match the session state', async () => {
    const { account, sessionId } = await sessionWithSample();
    const state = await stateOf(sessionId, account.token);
    const stub = env.SESSIONS.getByName(sessionId);
    // The write-through runs from the alarm, off the hot path, shortly after the commit.
    await vi.waitFor(async () => expect((await stub.getHealth()).d1LagEvents).toBe(0), {
      timeout: 5000,
    });
    expect(await stub.getHealth()).toMatchObject({ d1Seq: state.headSeq, d1LastError: null });

    const session = await env.DB.prepare('SELECT * FROM generation_sessions WHERE id = ?')
      .bind(sessionId)
      .first();
    expect(session).toMatchObject({
      project_id: account.projectId,
      status: 'idle',
      head_seq: state.headSeq,
      total_tokens: 30,
      message_count: 1,
      tool_call_count: 4,
      first_message_preview: 'Planning the work.',
    });
    const todos = await env.DB.prepare(
      'SELECT idx, content, status FROM generation_todos WHERE session_id = ? ORDER BY idx',
    )
      .bind(sessionId)
      .all();
    expect(todos.results).toEqual(
      state.todos.map((t, idx) => ({ idx, content: t.content, status: t.status })),
    );
    const calls = await env.DB.prepare(
      'SELECT tool_call_id, tool_name, status, finished_at, is_error, todo_index, parent_tool_call_id, output FROM generation_tool_calls WHERE session_id = ? ORDER BY seq',
    )
      .bind(sessionId)
      .all();
    expect(calls.results).toEqual(
      state.toolCalls.map((t) => ({
        tool_call_id: t.toolCallId,
        tool_name: t.toolName,
        finished_at: t.finishedAt ?? null,
        status: t.status,
        is_error: t.isError ? 1 : 0,
        todo_index: t.todoIndex ?? null,
        parent_tool_call_id: t.parentToolCallId ?? null,
        output: t.output === undefined ? null : JSON.stringify(t.output),
      })),
    );
    const message = await env.DB.prepare('SELECT text, status FROM messages WHERE session_id = ?')
      .bind(sessionId)
      .first();
    expect(message).toEqual({ text: 'Planning the work.', status: 'done' });
  });
});

describe('authorization', () => {
  it('refuses the signed-out, non-members and viewers-as-producers before any upgrade', async () => {
    const { account, sessionId } = await sessionWithSample();
    const stranger = await seedAccount();
    const viewer = await seedAccount('viewer', account.projectId);
    const cases: [string, string | undefined, Record<string, string>, number][] = [
      [`/api/sessions/${sessionId}/state`, undefined, {}, 401],
      [`/api/sessions/${sessionId}/state`, 'kiln_pat_bogus', {}, 401],
      [`/api/sessions/${sessionId}/state`, stranger.token, {}, 404],
      [`/api/sessions/${sessionId}/events`, stranger.token, {}, 404],
      [`/api/sessions/${sessionId}/ws`, stranger.token, { Upgrade: 'websocket' }, 404],
      [`/api/sessions/${sessionId}/ingest`, viewer.token, { Upgrade: 'websocket' }, 403],
      [`/api/sessions/${crypto.randomUUID()}/state`, account.token, {}, 404],
      [`/api/sessions/${sessionId}/state`, viewer.token, {}, 200],
    ];
    for (const [path, token, headers, status] of cases) {
      const res = await api(path, token, { headers });
      expect(`${path} ${status}`).toBe(`${path} ${res.status}`);
    }
    const lease = await api(
      `/api/projects/${account.projectId}/sessions/${crypto.randomUUID()}/builds`,
      viewer.token,
      {
        method: 'POST',
        body: '{}',
      },
    );
    expect(lease.status).toBe(403);
  });

  it('a cookie-authenticated socket upgrade from a foreign origin is refused', async () => {
    const { account, sessionId } = await sessionWithSample();
    const cookie = `kiln_token=${account.token}`;
    const foreign = await api(`/api/sessions/${sessionId}/ws`, undefined, {
      headers: { Upgrade: 'websocket', Cookie: cookie, Origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403);
    const same = await api(`/api/sessions/${sessionId}/ws`, undefined, {
      headers: { Upgrade: 'websocket', Cookie: cookie, Origin: 'http://kiln.test' },
    });
    expect(same.status).toBe(101);
  });
});
