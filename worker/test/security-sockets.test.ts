import { CATCH_UP_BURST_BYTES, MAX_FRAME_BYTES, MAX_SOCKETS_PER_PRINCIPAL } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import {
  api,
  connect,
  connectPath,
  openBuild,
  produce,
  seedAccount,
  type TestSocket,
} from './helpers';

describe('catch-up byte budget', () => {
  it('answers hello {lastSeq: 0} until a socket has pulled its burst, then refuses with rate-limited and keeps the socket', async () => {
    // A session of about 8 MiB: each full catch-up costs half the 16 MiB burst, so the budget
    // (refilled at 1 MiB/s) runs out after a few hellos however slow the machine is.
    const { account, sessionId, producer } = await openBuild();
    const chunk = 'x'.repeat(200 * 1024);
    const perFrame = Math.floor(MAX_FRAME_BYTES / (chunk.length + 200));
    let producerSeq = 1;
    // Payload-heavy events: assistant text in two interleaved messages (no coalescing).
    const big = Array.from({ length: 40 }, (_, i) => ({
      type: 'text-delta' as const,
      messageId: `m${i % 2}`,
      delta: chunk,
    }));
    await produce(producer, producerSeq, [
      { type: 'message-start', messageId: 'm0', role: 'assistant' },
      { type: 'message-start', messageId: 'm1', role: 'assistant' },
    ]);
    producerSeq += 2;
    for (let i = 0; i < big.length; i += perFrame) {
      const events = big.slice(i, i + perFrame);
      await produce(producer, producerSeq, events);
      producerSeq += events.length;
    }

    const s = await connect(sessionId, 'ws', account.token);
    await s.waitForType('ready');
    let bytes = 0;
    s.ws.addEventListener('message', (e) => {
      bytes += (e.data as string).length;
    });
    const head = () => Math.max(0, ...s.events().map((e) => e.seq));
    const refusals = () => s.frames.filter((f) => f.type === 'error' && f.code === 'rate-limited');
    const lastHead = (await (
      await api(`/api/sessions/${sessionId}/state`, account.token)
    ).json()) as {
      headSeq: number;
    };
    let answered = 0;
    for (let i = 0; i < 40 && refusals().length === 0; i++) {
      const seen = s.events().filter((e) => e.seq === lastHead.headSeq).length;
      s.send({ type: 'hello', lastSeq: 0 });
      await s.waitFor(
        () =>
          refusals().length > 0 ||
          s.events().filter((e) => e.seq === lastHead.headSeq).length > seen,
        `catch-up ${i}`,
      );
      if (refusals().length === 0) answered++;
    }
    expect(head()).toBe(lastHead.headSeq);
    expect(refusals()).toHaveLength(1);
    expect(String(refusals()[0]!.message)).toMatch(/send hello again in \d+ s/);
    // It sent at least the burst, and then stopped: far less than 40 catch-ups.
    expect(bytes).toBeGreaterThan(CATCH_UP_BURST_BYTES);
    expect(answered).toBeLessThan(40);
    expect(s.closed).toBeUndefined();
    s.close();
  });
});

describe('sockets per principal', () => {
  it(`refuses the project channel socket past ${MAX_SOCKETS_PER_PRINCIPAL} of one person with 429; others and a freed slot pass`, async () => {
    const owner = await seedAccount();
    const other = await seedAccount('viewer', owner.projectId);
    const path = `/api/projects/${owner.projectId}/ws`;
    const sockets: TestSocket[] = [];
    for (let i = 0; i < MAX_SOCKETS_PER_PRINCIPAL; i++)
      sockets.push(await connectPath(path, owner.token));
    const refused = await api(path, owner.token, { headers: { Upgrade: 'websocket' } });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate-limited');
    const theirs = await connectPath(path, other.token);
    await theirs.waitForType('ready');
    sockets[0]!.close();
    await sockets[0]!.waitFor(() => sockets[0]!.closed !== undefined, 'close');
    const again = await connectPath(path, owner.token);
    await again.waitForType('ready');
    for (const s of [...sockets, theirs, again]) s.close();
  });
});
