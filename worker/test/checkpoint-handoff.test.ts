import { describe, expect, it } from 'vitest';
import {
  connect,
  connectPath,
  produce,
  seedAccount,
  seedRunner,
  sendMessage,
  type TestSocket,
} from './helpers';

type Build = { buildId: string; turnId: string; agent: string; checkpoint?: unknown };

async function runner(token: string, agents: string[]): Promise<TestSocket> {
  const socket = await connectPath('/api/runners/connect', token);
  socket.send({ type: 'hello', runnerId: 'test', version: '0.0.0', agents, capacity: 2 });
  return socket;
}

/** Waits until the hub has handled everything `socket` sent. */
const settled = (socket: TestSocket) => socket.barrier();

const builds = (socket: TestSocket) =>
  socket.frames.filter((f) => f.type === 'build') as unknown as Build[];

/** Runs a turn as a runner would: accept, ingest turn-started, a checkpoint, turn-finished. */
async function runTurn(
  socket: TestSocket,
  token: string,
  sessionId: string,
  build: Build,
  state: unknown,
) {
  socket.send({ type: 'build-accepted', buildId: build.buildId });
  socket.send({ type: 'heartbeat', activeBuilds: [build.buildId] });
  await settled(socket);
  const ingest = await connect(sessionId, 'ingest', token);
  ingest.send({ type: 'hello', buildId: build.buildId, producerEpoch: 1 });
  await ingest.waitForType('ready');
  const { turnId, agent } = build;
  await produce(ingest, 1, [
    { type: 'turn-started', turnId, buildId: build.buildId, runnerId: 'test', agent, model: '' },
    { type: 'checkpoint', turnId, agent, state },
    { type: 'turn-finished', turnId, status: 'completed', durationMs: 5 },
  ]);
  ingest.close();
  socket.send({ type: 'heartbeat', activeBuilds: [] });
}

describe('checkpoints between turns', () => {
  it("a follow-up's build carries the previous turn's checkpoint, even on another runner, and only for the same agent", async () => {
    const account = await seedAccount();
    const a = await seedRunner(account, 'a');
    const b = await seedRunner(account, 'b');
    const sessionId = crypto.randomUUID();

    const ra = await runner(a.token, ['demo']);
    await sendMessage(account, sessionId, 'first');
    await ra.waitFor(() => builds(ra).length === 1, 'first build');
    const first = builds(ra)[0]!;
    expect(first.checkpoint).toBeUndefined();
    await runTurn(ra, a.token, sessionId, first, { version: 1, resumeId: 'conversation-1' });
    ra.close();

    // Runner a is gone; b (a different runner) takes the follow-up and gets the checkpoint.
    const rb = await runner(b.token, ['demo', 'replay']);
    await sendMessage(account, sessionId, 'second');
    await rb.waitFor(() => builds(rb).length === 1, 'follow-up on b');
    const second = builds(rb)[0]!;
    expect(second.checkpoint).toEqual({ version: 1, resumeId: 'conversation-1' });
    await runTurn(rb, b.token, sessionId, second, { version: 1, resumeId: 'conversation-2' });

    // Another agent gets no checkpoint: the demo agent's state means nothing to replay.
    await sendMessage(account, sessionId, 'third', undefined, 'replay');
    await rb.waitFor(() => builds(rb).length === 2, 'replay build');
    expect(builds(rb)[1]!.agent).toBe('replay');
    expect(builds(rb)[1]!.checkpoint).toBeUndefined();
  });
});
