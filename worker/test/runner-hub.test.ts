import { env } from 'cloudflare:test';
import { MAX_QUEUED_TURNS_PER_PROJECT, projectState } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { SHARED_HUB } from '../src/runners/runner-hub';
import {
  api,
  connectPath,
  seedAccount,
  seedRunner,
  sendMessage,
  stateOf,
  type TestSocket,
} from './helpers';

/** A fake runner on the hub's control socket. */
async function fakeRunner(token: string, capacity: number, agents: string[]): Promise<TestSocket> {
  const socket = await connectPath('/api/runners/connect', token);
  socket.send({ type: 'hello', runnerId: 'test', version: '0.0.0', agents, capacity });
  await settled(socket);
  return socket;
}

/** Waits until the hub has handled everything `socket` sent. */
const settled = (socket: TestSocket) => socket.barrier();

function builds(socket: TestSocket) {
  return socket.frames.filter((f) => f.type === 'build') as {
    buildId: string;
    sessionId: string;
  }[];
}

/**
 * Makes the fake runner accept every build it is offered the moment the offer arrives, as a real
 * runner does: an accepted build runs and is never offered again, however long the test takes (an
 * offer left unanswered goes back to the queue after the hub's 10 s offer timeout).
 */
function acceptBuilds(socket: TestSocket): void {
  socket.ws.addEventListener('message', (event) => {
    const frame = JSON.parse(event.data as string) as { type?: string; buildId?: string };
    if (frame.type === 'build') socket.send({ type: 'build-accepted', buildId: frame.buildId });
  });
}

async function sharedRunner(agents: string[], capacity = 1, accept = false) {
  const operator = await seedAccount();
  const runner = await seedRunner(operator, `shared ${agents.join(',')}`);
  await env.DB.prepare('UPDATE runner_tokens SET shared = 1 WHERE id = ?')
    .bind(runner.runnerId)
    .run();
  const socket = await fakeRunner(runner.token, capacity, agents);
  if (accept) acceptBuilds(socket);
  return { operator, ...runner, socket };
}

/** Another project owned by the same account, written straight into D1. */
async function addProject(userId: string): Promise<string> {
  const projectId = crypto.randomUUID();
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare(
      'INSERT INTO projects (id, name, owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
    ).bind(projectId, 'More', userId, now, now),
    env.DB.prepare(
      "INSERT INTO project_members (project_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)",
    ).bind(projectId, userId, now),
  ]);
  return projectId;
}

const projectHead = async (projectId: string) =>
  projectState.parse(await env.PROJECTS.getByName(projectId).getState(projectId)).headSeq;

describe('the shared runner hub under one tenant’s flood', () => {
  it('800 turns for an agent no runner offers fail at once, the queue is capped, and another account’s build then costs the hub a bounded number of row reads', async () => {
    // Both accept what they are offered: this test takes long enough on a loaded machine for an
    // unanswered offer to time out and be offered again.
    const slow = await sharedRunner(['slow'], 1, true);
    const demo = await sharedRunner(['demo'], 1, true);
    const hub = env.RUNNER_HUBS.getByName(SHARED_HUB);
    const flooder = await seedAccount();

    // 800 turns for an agent nobody offers, straight into the hub as the messages route hands
    // them over: each fails at once with the reason, none queues.
    const turn = async (projectId: string, sessionId: string, agent: string, i: number) => {
      await env.DB.prepare(
        "INSERT OR IGNORE INTO generation_sessions (id, project_id, status, protocol_version, created_at, updated_at) VALUES (?, ?, 'idle', 1, ?, ?)",
      )
        .bind(sessionId, projectId, Date.now(), Date.now())
        .run();
      await env.SESSIONS.getByName(sessionId).init(sessionId, projectId);
      return hub.enqueue({
        messageId: `msg_${i}`,
        sessionId,
        projectId,
        accountId: flooder.userId,
        prompt: `turn ${i}`,
        agent,
        model: '',
      });
    };
    const ghostSessions = Array.from({ length: 8 }, () => crypto.randomUUID());
    for (let i = 0; i < 800; i++) {
      expect(await turn(flooder.projectId, ghostSessions[i % 8]!, 'ghost', i)).toBe('failed');
    }
    const ghost = await stateOf(ghostSessions[0]!, flooder.token);
    expect(ghost.status).toBe('failed');
    expect(ghost.statusReason).toContain('no connected runner offers the ghost agent');

    // Turns for a busy agent queue up to the caps: per project (the route answers 429), then
    // per account.
    const projects = [flooder.projectId];
    for (let p = 1; p < 5; p++) projects.push(await addProject(flooder.userId));
    for (const projectId of projects) {
      for (let i = 0; i < MAX_QUEUED_TURNS_PER_PROJECT; i++) {
        expect(await turn(projectId, crypto.randomUUID(), 'slow', i)).not.toBe('failed');
      }
      expect(await turn(projectId, crypto.randomUUID(), 'slow', 99)).toBe('failed');
    }
    const over = await sendMessage(flooder, crypto.randomUUID(), 'x', undefined, 'slow');
    expect(over.status).toBe(429);
    const sixth = await addProject(flooder.userId);
    const accountOver = await sendMessage(
      { ...flooder, projectId: sixth },
      crypto.randomUUID(),
      'x',
      undefined,
      'slow',
    );
    expect(accountOver.status).toBe(429);
    // The slow agent's one slot runs the first turn; every other one waits in the queue.
    await settled(slow.socket);
    expect(builds(slow.socket)).toHaveLength(1);

    // Another account's build starts, reading a bounded part of the queue, and the flooder's
    // project channels do not grow while it does.
    const heads = await Promise.all(projects.map(projectHead));
    const before = await hub.dispatchWork();
    const other = await seedAccount();
    const sessionId = crypto.randomUUID();
    expect((await sendMessage(other, sessionId, 'build me')).status).toBe(201);
    await demo.socket.waitFor(() => builds(demo.socket).length === 1, 'the other account’s build');
    expect(builds(demo.socket)[0]!.sessionId).toBe(sessionId);
    await settled(demo.socket);
    const work = (await hub.dispatchWork()) - before;
    expect(work).toBeLessThan(60);
    expect(await Promise.all(projects.map(projectHead))).toEqual(heads);

    // Deleting a flooding project is one bounded pass over its own turns.
    const beforeDelete = await hub.dispatchWork();
    expect(
      (await api(`/api/projects/${projects[1]}`, flooder.token, { method: 'DELETE' })).status,
    ).toBe(204);
    expect((await hub.dispatchWork()) - beforeDelete).toBeLessThan(200);
    // Its turns no longer count: the account may queue again.
    expect(
      (
        await sendMessage(
          { ...flooder, projectId: sixth },
          crypto.randomUUID(),
          'x',
          undefined,
          'slow',
        )
      ).status,
    ).toBe(201);
    slow.socket.close();
    demo.socket.close();
  });
});

describe('turn identity and runner revocation', () => {
  it('the same client message id in two sessions (and another tenant’s) starts a turn in each', async () => {
    const account = await seedAccount();
    const runner = await seedRunner(account);
    const socket = await fakeRunner(runner.token, 3, ['demo']);
    const other = await seedAccount('editor', account.projectId);
    const clientMessageId = crypto.randomUUID();
    const sessions = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    expect((await sendMessage(account, sessions[0]!, 'one', clientMessageId)).status).toBe(201);
    expect((await sendMessage(account, sessions[1]!, 'two', clientMessageId)).status).toBe(201);
    expect((await sendMessage(other, sessions[2]!, 'three', clientMessageId)).status).toBe(201);
    await socket.waitFor(() => builds(socket).length === 3, 'three builds');
    expect(new Set(builds(socket).map((b) => b.sessionId))).toEqual(new Set(sessions));
    socket.close();
  });

  it('revoking a shared runner’s token closes its control socket on the shared hub and its ingest socket', async () => {
    // An agent of its own: the earlier test's shared runners may still be closing.
    const shared = await sharedRunner(['revocable']);
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    expect((await sendMessage(account, sessionId, 'go', undefined, 'revocable')).status).toBe(201);
    await shared.socket.waitFor(() => builds(shared.socket).length === 1, 'a build');
    const build = builds(shared.socket)[0]!;
    shared.socket.send({ type: 'build-accepted', buildId: build.buildId });
    await settled(shared.socket);
    const ingest = await connectPath(`/api/sessions/${sessionId}/ingest`, shared.token);
    ingest.send({ type: 'hello', buildId: build.buildId, producerEpoch: 1 });
    await ingest.waitForType('ready');

    const res = await api(`/api/runners/${shared.runnerId}`, shared.operator.token, {
      method: 'DELETE',
    });
    expect(res.status).toBe(204);
    await shared.socket.waitFor(() => shared.socket.closed !== undefined, 'control socket closed');
    expect(shared.socket.closed).toMatchObject({ code: 1008, reason: 'token revoked' });
    await ingest.waitFor(() => ingest.closed !== undefined, 'ingest socket closed');
    expect(ingest.closed).toMatchObject({
      code: 1008,
      reason: 'access revoked: runner token revoked',
    });
  });
});
