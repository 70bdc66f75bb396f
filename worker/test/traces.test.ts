import { env } from 'cloudflare:test';
import type { TracesPage } from '@kiln/protocol';
import { sampleTurn } from '@kiln/protocol/testing';
import { describe, expect, it, vi } from 'vitest';
import { api, connectProducer, leaseBuild, produce, seedAccount } from './helpers';

/** A session with the sample turn committed and projected into D1. */
async function projectedSession() {
  const account = await seedAccount();
  const sessionId = crypto.randomUUID();
  const { buildId } = await leaseBuild(account, sessionId);
  const producer = await connectProducer(account, sessionId, buildId);
  await produce(producer, 1, sampleTurn(buildId));
  const stub = env.SESSIONS.getByName(sessionId);
  // The write-through runs from the alarm shortly after the commit; the trace reads D1.
  await vi.waitFor(async () => expect((await stub.getHealth()).d1LagEvents).toBe(0), {
    timeout: 5000,
  });
  return { account, sessionId };
}

async function page(sessionId: string, token: string, query = ''): Promise<TracesPage> {
  const res = await api(`/api/sessions/${sessionId}/traces${query}`, token);
  expect(res.status).toBe(200);
  return (await res.json()) as TracesPage;
}

describe('GET /api/sessions/:id/traces', () => {
  it('returns the turn, its step and tool calls in seq order with timings and usage per model', async () => {
    const { account, sessionId } = await projectedSession();
    const trace = await page(sessionId, account.token);

    expect(trace.nextCursor).toBeNull();
    expect(trace.session).toMatchObject({ id: sessionId, status: 'idle', totalTokens: 30 });
    expect(trace.turns).toEqual([
      expect.objectContaining({ turnId: 'turn-1', steps: 1, toolCalls: 4, errors: 1 }),
    ]);
    expect(trace.spans.map((s) => `${s.kind}:${s.id}`)).toEqual([
      'step:m1',
      'tool-call:t1',
      'tool-call:t2',
      'tool-call:t3',
      'tool-call:t4',
    ]);
    const seqs = trace.spans.map((s) => s.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const glob = trace.spans.find((s) => s.id === 't3');
    expect(glob).toMatchObject({
      kind: 'tool-call',
      toolName: 'Glob',
      input: { pattern: '*' },
      output: 'no match',
      isError: true,
      parentToolCallId: 't2',
      durationMs: 2,
    });
    expect(trace.spans.find((s) => s.id === 't4')).toMatchObject({ status: 'abandoned' });
    expect(trace.usageByModel).toEqual({
      'test-model': {
        inputTokens: 10,
        outputTokens: 20,
        cacheReadTokens: 3,
        cacheWriteTokens: 4,
        reasoningTokens: 0,
        costUsd: 0.01,
      },
    });
  });

  it('pages through the spans with an opaque cursor, each span exactly once', async () => {
    const { account, sessionId } = await projectedSession();
    const all = await page(sessionId, account.token);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const next: TracesPage = await page(
        sessionId,
        account.token,
        `?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(next.spans.length).toBeLessThanOrEqual(2);
      expect(next.turns).toEqual(all.turns);
      seen.push(...next.spans.map((s) => s.id));
      cursor = next.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(all.spans.map((s) => s.id));
  });

  it('refuses the signed-out, non-members, bad queries and unknown sessions', async () => {
    const { account, sessionId } = await projectedSession();
    const stranger = await seedAccount();
    const viewer = await seedAccount('viewer', account.projectId);
    expect((await api(`/api/sessions/${sessionId}/traces`, undefined)).status).toBe(401);
    expect((await api(`/api/sessions/${sessionId}/traces`, stranger.token)).status).toBe(404);
    expect((await api(`/api/sessions/${sessionId}/traces`, viewer.token)).status).toBe(200);
    for (const query of ['?limit=0', '?limit=100000', '?cursor=12', '?cursor=s1;DROP']) {
      const res = await api(`/api/sessions/${sessionId}/traces${query}`, account.token);
      expect(res.status, query).toBe(400);
    }
    expect((await api(`/api/sessions/${crypto.randomUUID()}/traces`, account.token)).status).toBe(
      404,
    );
  });
});
