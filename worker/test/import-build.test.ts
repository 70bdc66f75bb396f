import type { BuildLease, IngestEvent } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import {
  type Account,
  api,
  connectProducer,
  leaseBuild,
  logOf,
  produce,
  seedAccount,
  stateOf,
} from './helpers';

/** `POST …/builds {import: true}` as `account`. */
async function leaseImport(account: Account, sessionId: string): Promise<Response> {
  return api(`/api/projects/${account.projectId}/sessions/${sessionId}/builds`, account.token, {
    method: 'POST',
    body: JSON.stringify({ agent: 'claude-code', model: 'm', import: true }),
  });
}

/** A turn recorded an hour ago: started, one tool call of 4 s, finished after 10 s. */
function recordedTurn(buildId: string, t0: number): IngestEvent[] {
  return [
    { type: 'session-renamed', title: 'Fix the login page', recordedAt: t0 },
    {
      type: 'turn-started',
      turnId: 'src:1',
      buildId,
      runnerId: 'kiln-import',
      agent: 'claude-code',
      model: 'm',
      recordedAt: t0,
    },
    {
      type: 'tool-input-available',
      toolCallId: 'call-1',
      toolName: 'Bash',
      input: { command: 'ls' },
      recordedAt: t0 + 1_000,
    },
    {
      type: 'tool-output-available',
      toolCallId: 'call-1',
      output: 'a\nb',
      isError: false,
      truncated: false,
      durationMs: 0,
      recordedAt: t0 + 5_000,
    },
    {
      type: 'turn-finished',
      turnId: 'src:1',
      status: 'completed',
      durationMs: 10_000,
      recordedAt: t0 + 10_000,
    },
  ];
}

describe('import builds', () => {
  it('keep the recorded times as the events’ `at`, so tool and turn timings are the real run’s', async () => {
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    const res = await leaseImport(account, sessionId);
    expect(res.status).toBe(201);
    const lease = (await res.json()) as BuildLease;
    expect(lease.buildId).toBe(`${sessionId}:import`);
    expect(lease.ackedProducerSeq).toBe(0);
    const t0 = Date.UTC(2025, 9, 24, 20, 50);
    const producer = await connectProducer(account, sessionId, lease.buildId);
    await produce(producer, 1, recordedTurn(lease.buildId, t0));

    const log = await logOf(sessionId, account.token);
    expect(log.map((e) => e.at)).toEqual([t0, t0, t0 + 1_000, t0 + 5_000, t0 + 10_000]);
    expect(log.some((e) => 'recordedAt' in e)).toBe(false);
    const state = await stateOf(sessionId, account.token);
    expect(state.title).toBe('Fix the login page');
    expect(state.turns[0]).toMatchObject({ startedAt: t0, finishedAt: t0 + 10_000 });
    expect(state.toolCalls[0]).toMatchObject({ startedAt: t0 + 1_000, durationMs: 4_000 });
  });

  it('are leased again by the next import, which learns what is acknowledged; re-sent events are duplicates', async () => {
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    const first = (await (await leaseImport(account, sessionId)).json()) as BuildLease;
    const events = recordedTurn(first.buildId, Date.UTC(2025, 0, 1));
    const producer = await connectProducer(account, sessionId, first.buildId);
    await produce(producer, 1, events);
    producer.close();

    const again = await leaseImport(account, sessionId);
    expect(again.status).toBe(201);
    const second = (await again.json()) as BuildLease;
    expect(second).toMatchObject({ buildId: first.buildId, ackedProducerSeq: events.length });
    const resend = await connectProducer(account, sessionId, second.buildId, 2);
    expect(resend.frames.find((f) => f.type === 'ready')).toMatchObject({
      ackedProducerSeq: events.length,
    });
    await produce(resend, 1, events);
    expect(await logOf(sessionId, account.token)).toHaveLength(events.length);
  });

  it('belong to the account that created them: another editor’s import of the session is a conflict', async () => {
    const owner = await seedAccount();
    const sessionId = crypto.randomUUID();
    expect((await leaseImport(owner, sessionId)).status).toBe(201);
    const other = await seedAccount('editor', owner.projectId);
    expect((await leaseImport(other, sessionId)).status).toBe(409);
  });

  it('are the only builds whose events may carry recordedAt', async () => {
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    const { buildId } = await leaseBuild(account, sessionId);
    const producer = await connectProducer(account, sessionId, buildId);
    producer.send({
      type: 'events',
      firstProducerSeq: 1,
      events: [{ type: 'session-renamed', title: 'x', recordedAt: 1 }],
    });
    await producer.waitFor((f) => f.some((x) => x.type === 'error'), 'refusal');
    expect(producer.frames.find((f) => f.type === 'error')).toMatchObject({ code: 'bad-frame' });
    expect(await logOf(sessionId, account.token)).toHaveLength(0);
  });
});
