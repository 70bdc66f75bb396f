import type { SessionState } from '@kiln/protocol';
import { textDeltas } from '@kiln/protocol/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IngestProducer } from '../ingest/producer';
import { FakeKilnServer } from '../testing/fake-kiln-server';
import { SessionSubscriber } from './session-subscriber';

let server: FakeKilnServer;
let ingestUrl: string;

beforeEach(async () => {
  server = new FakeKilnServer();
  ingestUrl = await server.start();
});

afterEach(() => server.stop());

const delta = (i: number) => textDeltas('m1', i, i + 1)[0]!;

describe('SessionSubscriber', () => {
  it('resumes from its last seq after the socket drops, receiving every event once', async () => {
    const producer = new IngestProducer({
      url: ingestUrl,
      token: server.token,
      buildId: 'build-1',
    });
    producer.append([
      { type: 'message-start', messageId: 'm1', role: 'assistant' },
      delta(1),
      delta(2),
    ]);
    await producer.flush();

    const states: SessionState[] = [];
    let waiting: { seq: number; resolve: () => void } | undefined;
    const reach = (seq: number) =>
      new Promise<void>((resolve) => {
        if ((states.at(-1)?.headSeq ?? 0) >= seq) resolve();
        else waiting = { seq, resolve };
      });
    const subscriber = new SessionSubscriber({
      url: `${server.origin}/api/sessions/s1/ws`,
      token: server.token,
      sessionId: 's1',
      minRetryDelayMs: 5,
      maxRetryDelayMs: 20,
      onState: (state) => {
        states.push(state);
        if (waiting && state.headSeq >= waiting.seq) waiting.resolve();
      },
    });
    subscriber.start();
    await reach(3);
    server.killSubscribers();
    producer.append([delta(3), delta(4)]);
    await producer.flush();
    await reach(5);
    subscriber.close();
    producer.close();

    expect(server.hellos).toEqual([0, 3]);
    expect(states.at(-1)?.messages.map((m) => m.text)).toEqual(['d1 d2 d3 d4 ']);
    await expect(subscriber.done).resolves.toBeUndefined();
  });
});
