import { env, SELF } from 'cloudflare:test';
import { MAX_FRAME_BYTES, type SessionState, titleFromPrompt } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import {
  type Account,
  api,
  BASE,
  connect,
  connectPath,
  seedAccount,
  seedRunner,
  sendMessage,
  type TestSocket,
} from './helpers';

async function stateOf(sessionId: string, token: string): Promise<SessionState> {
  const res = await api(`/api/sessions/${sessionId}/state`, token);
  expect(res.status).toBe(200);
  return (await res.json()) as SessionState;
}

async function signUp(email: string, password: string): Promise<string> {
  const res = await SELF.fetch(`${BASE}/api/auth/sign-up/email`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: BASE },
    body: JSON.stringify({ email, password, name: 'Ada' }),
  });
  expect(res.status).toBe(200);
  const cookie = res.headers.getSetCookie().find((c) => c.includes('session_token'));
  expect(cookie).toBeDefined();
  return cookie!.split(';')[0]!;
}

describe('accounts', () => {
  it('a person signs up with email and password, is signed in by the httpOnly cookie, and signs out', async () => {
    const email = `${crypto.randomUUID()}@example.test`;
    const cookie = await signUp(email, 'correct horse battery');
    const me = await SELF.fetch(`${BASE}/api/me`, { headers: { Cookie: cookie } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe(email);

    // The password is stored as a PBKDF2 hash, never in clear.
    const row = await env.DB.prepare(
      'SELECT a.password FROM auth_accounts a JOIN users u ON u.id = a.user_id WHERE u.email = ?',
    )
      .bind(email)
      .first<{ password: string }>();
    expect(row?.password).toMatch(/^pbkdf2-sha256\$/);

    // Signing in again works; a wrong password does not.
    const signIn = (password: string) =>
      SELF.fetch(`${BASE}/api/auth/sign-in/email`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Origin: BASE },
        body: JSON.stringify({ email, password }),
      });
    expect((await signIn('wrong password')).status).toBe(401);
    expect((await signIn('correct horse battery')).status).toBe(200);

    // A cookie-authenticated mutation from a foreign origin is refused.
    const foreign = await SELF.fetch(`${BASE}/api/projects`, {
      method: 'POST',
      headers: {
        Cookie: cookie,
        Origin: 'https://evil.example',
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ name: 'x' }),
    });
    expect(foreign.status).toBe(403);
    const created = await SELF.fetch(`${BASE}/api/projects`, {
      method: 'POST',
      headers: { Cookie: cookie, Origin: BASE, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Mine' }),
    });
    expect(created.status).toBe(201);

    const out = await SELF.fetch(`${BASE}/api/auth/sign-out`, {
      method: 'POST',
      headers: { Cookie: cookie, Origin: BASE },
    });
    expect(out.status).toBe(204);
    expect((await SELF.fetch(`${BASE}/api/me`, { headers: { Cookie: cookie } })).status).toBe(401);
  });

  it('personal access tokens are created, listed and revoked; a revoked one stops working', async () => {
    const account = await seedAccount();
    const created = await api('/api/tokens', account.token, {
      method: 'POST',
      body: JSON.stringify({ name: 'laptop' }),
    });
    expect(created.status).toBe(201);
    const { id, token } = (await created.json()) as { id: string; token: string };
    expect((await api('/api/me', token)).status).toBe(200);
    const list = (await (await api('/api/tokens', account.token)).json()) as {
      tokens: { id: string }[];
    };
    expect(list.tokens.map((t) => t.id)).toContain(id);
    expect(JSON.stringify(list)).not.toContain(token);
    expect((await api(`/api/tokens/${id}`, account.token, { method: 'DELETE' })).status).toBe(204);
    expect((await api('/api/me', token)).status).toBe(401);
  });
});

describe('sessions in a project', () => {
  it('a session exists only once its first message is posted, and a retried message is stored once', async () => {
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    expect((await api(`/api/sessions/${sessionId}/state`, account.token)).status).toBe(404);
    const list = async () =>
      (
        (await (
          await api(`/api/projects/${account.projectId}/sessions`, account.token)
        ).json()) as {
          sessions: { sessionId: string; title: string }[];
        }
      ).sessions;
    expect(await list()).toEqual([]);

    const clientMessageId = crypto.randomUUID();
    const first = await sendMessage(
      account,
      sessionId,
      'Build a todo app\nwith dark mode',
      clientMessageId,
    );
    expect(first.status).toBe(201);
    const retry = await sendMessage(
      account,
      sessionId,
      'Build a todo app\nwith dark mode',
      clientMessageId,
    );
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ created: false, sessionCreated: false });

    const state = await stateOf(sessionId, account.token);
    expect(state.messages.filter((m) => m.role === 'user')).toHaveLength(1);
    expect(state.title).toBe('Build a todo app');
    expect((await list()).map((s) => s.sessionId)).toEqual([sessionId]);
  });

  it('sessions are listed in creation order; rename, archive and delete change the list', async () => {
    const account = await seedAccount();
    const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const id of ids) expect((await sendMessage(account, id, `prompt ${id}`)).status).toBe(201);
    const base = `/api/projects/${account.projectId}/sessions`;
    const list = async (q = '') =>
      (
        (await (await api(`${base}${q}`, account.token)).json()) as {
          sessions: { sessionId: string; title: string; archived: boolean }[];
        }
      ).sessions;
    expect((await list()).map((s) => s.sessionId)).toEqual(ids);

    const patch = (id: string, body: object) =>
      api(`${base}/${id}`, account.token, { method: 'PATCH', body: JSON.stringify(body) });
    expect((await patch(ids[0]!, { title: 'Renamed' })).status).toBe(204);
    expect((await stateOf(ids[0]!, account.token)).title).toBe('Renamed');
    expect((await patch(ids[1]!, { archived: true })).status).toBe(204);
    expect((await list()).map((s) => s.sessionId)).toEqual([ids[0], ids[2]]);
    expect((await list('?archived=1')).find((s) => s.sessionId === ids[1])?.archived).toBe(true);

    expect((await api(`${base}/${ids[2]}`, account.token, { method: 'DELETE' })).status).toBe(204);
    expect((await list()).map((s) => s.sessionId)).toEqual([ids[0]]);
    expect((await api(`/api/sessions/${ids[2]}/state`, account.token)).status).toBe(404);
  });
});

describe('authorization matrix', () => {
  it('every route and socket answers each kind of caller as it should, and forbidden calls change nothing', async () => {
    const owner = await seedAccount('owner');
    const editor = await seedAccount('editor', owner.projectId);
    const viewer = await seedAccount('viewer', owner.projectId);
    const stranger = await seedAccount();
    const revoked = await seedAccount('owner', owner.projectId);
    await env.DB.prepare('UPDATE api_tokens SET revoked_at = ? WHERE user_id = ?')
      .bind(Date.now(), revoked.userId)
      .run();
    const ownRunner = await seedRunner(owner);
    const otherRunner = await seedRunner(stranger);
    const sessionId = crypto.randomUUID();
    expect((await sendMessage(owner, sessionId, 'hello')).status).toBe(201);
    const p = owner.projectId;

    type Caller = 'owner' | 'editor' | 'viewer' | 'stranger' | 'signedOut' | 'revoked' | 'runner';
    const tokens: Record<Caller, string | undefined> = {
      owner: owner.token,
      editor: editor.token,
      viewer: viewer.token,
      stranger: stranger.token,
      signedOut: undefined,
      revoked: revoked.token,
      runner: otherRunner.token,
    };
    const read = {
      owner: 200,
      editor: 200,
      viewer: 200,
      // "Not yours" answers as "no such session/project" (404 alike).
      stranger: 404,
      signedOut: 401,
      revoked: 401,
      runner: 401,
    };
    const write = { ...read, owner: 201, editor: 201, viewer: 403 };
    const socket = { ...read, owner: 101, editor: 101, viewer: 101 };
    const ingest = { ...socket, viewer: 403, runner: 403 };

    const routes: {
      name: string;
      expected: Record<Caller, number>;
      call: (t?: string) => Promise<Response>;
    }[] = [
      { name: 'state', expected: read, call: (t) => api(`/api/sessions/${sessionId}/state`, t) },
      { name: 'events', expected: read, call: (t) => api(`/api/sessions/${sessionId}/events`, t) },
      {
        name: 'session health',
        expected: read,
        call: (t) => api(`/api/sessions/${sessionId}/health`, t),
      },
      { name: 'project', expected: read, call: (t) => api(`/api/projects/${p}`, t) },
      { name: 'sessions list', expected: read, call: (t) => api(`/api/projects/${p}/sessions`, t) },
      { name: 'members', expected: read, call: (t) => api(`/api/projects/${p}/members`, t) },
      {
        name: 'messages',
        expected: write,
        call: (t) =>
          api(`/api/projects/${p}/sessions/${sessionId}/messages`, t, {
            method: 'POST',
            body: JSON.stringify({
              clientMessageId: crypto.randomUUID(),
              text: 'more',
              agent: 'demo',
            }),
          }),
      },
      {
        name: 'interrupt',
        expected: { ...write, owner: 409, editor: 409 },
        call: (t) =>
          api(`/api/projects/${p}/sessions/${sessionId}/interrupt`, t, { method: 'POST' }),
      },
      {
        name: 'rename',
        expected: { ...write, owner: 204, editor: 204 },
        call: (t) =>
          api(`/api/projects/${p}/sessions/${sessionId}`, t, {
            method: 'PATCH',
            body: JSON.stringify({ title: 'T' }),
          }),
      },
      {
        name: 'session ws',
        expected: socket,
        call: (t) => api(`/api/sessions/${sessionId}/ws`, t, { headers: { Upgrade: 'websocket' } }),
      },
      {
        name: 'project ws',
        expected: socket,
        call: (t) => api(`/api/projects/${p}/ws`, t, { headers: { Upgrade: 'websocket' } }),
      },
      {
        name: 'ingest',
        expected: ingest,
        call: (t) =>
          api(`/api/sessions/${sessionId}/ingest`, t, { headers: { Upgrade: 'websocket' } }),
      },
      {
        name: 'runner connect',
        expected: {
          owner: 401,
          editor: 401,
          viewer: 401,
          stranger: 401,
          signedOut: 401,
          revoked: 401,
          runner: 101,
        },
        call: (t) => api('/api/runners/connect', t, { headers: { Upgrade: 'websocket' } }),
      },
      {
        name: 'runners list',
        expected: { ...read, stranger: 200 },
        call: (t) => api('/api/runners', t),
      },
    ];

    const failures: string[] = [];
    for (const route of routes) {
      for (const caller of Object.keys(tokens) as Caller[]) {
        const before = (await stateOf(sessionId, owner.token)).headSeq;
        const res = await route.call(tokens[caller]);
        res.webSocket?.accept();
        res.webSocket?.close(1000, 'done');
        const want = route.expected[caller];
        if (res.status !== want)
          failures.push(`${route.name} as ${caller}: ${res.status}, want ${want}`);
        if (want >= 400) {
          const body = await res.text();
          // Refused before anything was read: the body is only the error.
          expect(body).not.toContain('"messages"');
          const after = await stateOf(sessionId, owner.token);
          if (after.headSeq !== before) failures.push(`${route.name} as ${caller} changed the log`);
        }
      }
    }
    // A runner token of the project's account, without a lease, may not ingest either.
    const unleased = await api(`/api/sessions/${sessionId}/ingest`, ownRunner.token, {
      headers: { Upgrade: 'websocket' },
    });
    expect(unleased.status).toBe(403);
    // Only the owner sees its runners.
    const runners = (await (await api('/api/runners', owner.token)).json()) as {
      runners: { runnerId: string }[];
    };
    expect(runners.runners.map((r) => r.runnerId)).toEqual([ownRunner.runnerId]);
    const theirs = (await (await api('/api/runners', stranger.token)).json()) as {
      runners: { runnerId: string }[];
    };
    expect(theirs.runners.map((r) => r.runnerId)).toEqual([otherRunner.runnerId]);
    expect(failures).toEqual([]);
    // Only the owner may delete the project.
    expect((await api(`/api/projects/${p}`, editor.token, { method: 'DELETE' })).status).toBe(403);
    expect((await api(`/api/projects/${p}`, stranger.token, { method: 'DELETE' })).status).toBe(
      404,
    );
    expect((await api(`/api/projects/${p}`, owner.token)).status).toBe(200);
  });
});

/** A fake runner on the hub's control socket. */
async function fakeRunner(token: string, capacity = 1, agents = ['demo']): Promise<TestSocket> {
  const socket = await connectPath('/api/runners/connect', token);
  socket.send({ type: 'hello', runnerId: 'test', version: '0.0.0', agents, capacity });
  return socket;
}

function builds(socket: TestSocket) {
  return socket.frames.filter((f) => f.type === 'build') as {
    buildId: string;
    sessionId: string;
  }[];
}

/** Waits until the hub has handled everything `socket` sent. */
const settled = (socket: TestSocket) => socket.barrier();

describe('dispatch', () => {
  async function setup() {
    const account = await seedAccount();
    const a = await seedRunner(account, 'a');
    const b = await seedRunner(account, 'b');
    return { account, a, b };
  }

  it('two runners with capacity 1 each take one build each; the third waits as queued and starts when one finishes', async () => {
    const { account, a, b } = await setup();
    const ra = await fakeRunner(a.token);
    const rb = await fakeRunner(b.token);
    await settled(ra);
    await settled(rb);
    const s = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const id of s) expect((await sendMessage(account, id, `build ${id}`)).status).toBe(201);
    await ra.waitFor(() => builds(ra).length === 1, 'a build on a');
    await rb.waitFor(() => builds(rb).length === 1, 'a build on b');
    const [first] = builds(ra);
    const [second] = builds(rb);
    expect(new Set([first!.sessionId, second!.sessionId])).toEqual(new Set([s[0], s[1]]));
    ra.send({ type: 'build-accepted', buildId: first!.buildId });
    rb.send({ type: 'build-accepted', buildId: second!.buildId });
    ra.send({ type: 'heartbeat', activeBuilds: [first!.buildId] });
    await settled(ra);
    expect((await stateOf(s[2]!, account.token)).status).toBe('queued');

    // a finishes: it stops listing the build, and the queued session goes to it.
    ra.send({ type: 'heartbeat', activeBuilds: [] });
    await ra.waitFor(() => builds(ra).length === 2, 'the queued build on a');
    expect(builds(ra)[1]!.sessionId).toBe(s[2]);
    expect(builds(rb)).toHaveLength(1);
  });

  it("a message's permission mode reaches the runner in its build frame, and a message without one sends none", async () => {
    const { account, a } = await setup();
    const ra = await fakeRunner(a.token, 2);
    await settled(ra);
    const planned = crypto.randomUUID();
    const send = (sessionId: string, body: Record<string, unknown>) =>
      api(`/api/projects/${account.projectId}/sessions/${sessionId}/messages`, account.token, {
        method: 'POST',
        body: JSON.stringify({ clientMessageId: crypto.randomUUID(), text: 'look only', ...body }),
      });
    expect((await send(planned, { permissionMode: 'plan' })).status).toBe(201);
    expect((await send(crypto.randomUUID(), { permissionMode: 'ask' })).status).toBe(400);
    await ra.waitFor(() => builds(ra).length === 1, 'the planned build');
    expect(builds(ra)[0]).toMatchObject({ sessionId: planned, permissionMode: 'plan' });
    expect((await send(crypto.randomUUID(), {})).status).toBe(201);
    await ra.waitFor(() => builds(ra).length === 2, 'the second build');
    expect(builds(ra)[1]).not.toHaveProperty('permissionMode');
  });

  it('a follow-up sent while a turn runs waits for that turn, then starts on the same runner', async () => {
    const { account, a } = await setup();
    const ra = await fakeRunner(a.token, 4);
    await settled(ra);
    const id = crypto.randomUUID();
    await sendMessage(account, id, 'first');
    await ra.waitFor(() => builds(ra).length === 1, 'first build');
    ra.send({ type: 'build-accepted', buildId: builds(ra)[0]!.buildId });
    await sendMessage(account, id, 'second');
    await settled(ra);
    expect(builds(ra)).toHaveLength(1);
    ra.send({ type: 'heartbeat', activeBuilds: [] });
    await ra.waitFor(() => builds(ra).length === 2, 'second build');
    expect((builds(ra)[1] as unknown as { prompt: string }).prompt).toBe('second');
  });

  it('a build offered to a runner that disconnects before accepting goes to another runner', async () => {
    const { account, a, b } = await setup();
    const ra = await fakeRunner(a.token);
    await settled(ra);
    const id = crypto.randomUUID();
    await sendMessage(account, id, 'go');
    await ra.waitFor(() => builds(ra).length === 1, 'offer to a');
    const rb = await fakeRunner(b.token);
    await settled(rb);
    ra.close();
    await rb.waitFor(() => builds(rb).length === 1, 're-dispatch to b');
    expect(builds(rb)[0]!.sessionId).toBe(id);
    expect(builds(rb)[0]!.buildId).not.toBe(builds(ra)[0]!.buildId);
  });

  it('prefers the runner that last built the project, and the build is leased to that runner only', async () => {
    const { account, a, b } = await setup();
    const ra = await fakeRunner(a.token, 2);
    const rb = await fakeRunner(b.token, 2);
    await settled(ra);
    await settled(rb);
    const first = crypto.randomUUID();
    await sendMessage(account, first, 'one');
    const offered = await Promise.race([
      ra.waitFor(() => builds(ra).length === 1).then(() => ra),
      rb.waitFor(() => builds(rb).length === 1).then(() => rb),
    ]);
    const other = offered === ra ? rb : ra;
    const build = builds(offered)[0]!;
    offered.send({ type: 'build-accepted', buildId: build.buildId });
    offered.send({ type: 'heartbeat', activeBuilds: [build.buildId] });
    await settled(offered);
    // The lease: the other runner's token may not open this session's ingest socket.
    const otherToken = offered === ra ? b.token : a.token;
    const mineToken = offered === ra ? a.token : b.token;
    expect(
      (
        await api(`/api/sessions/${first}/ingest`, otherToken, {
          headers: { Upgrade: 'websocket' },
        })
      ).status,
    ).toBe(403);
    const ingest = await connect(first, 'ingest', mineToken);
    ingest.send({ type: 'hello', buildId: build.buildId, producerEpoch: 1 });
    await ingest.waitForType('ready');
    ingest.close();

    // Another session of the same project goes to the same runner although the other is idle.
    const second = crypto.randomUUID();
    await sendMessage(account, second, 'two');
    await offered.waitFor(() => builds(offered).length === 2, 'affinity');
    await settled(other);
    expect(builds(other)).toHaveLength(0);
  });

  it('a runner without the requested agent is not offered the build, and the turn fails at once saying why', async () => {
    const { account, a } = await setup();
    const ra = await fakeRunner(a.token, 1, ['replay']);
    await settled(ra);
    const id = crypto.randomUUID();
    await sendMessage(account, id, 'x', undefined, 'demo');
    await settled(ra);
    expect(builds(ra)).toHaveLength(0);
    const state = await stateOf(id, account.token);
    expect(state.status).toBe('failed');
    expect(state.statusReason).toBe('no connected runner offers the demo agent (offered: replay)');
  });
});

describe('project channel', () => {
  async function channel(account: Account, lastSeq: number) {
    const socket = await connectPath(`/api/projects/${account.projectId}/ws`, account.token);
    await socket.waitForType('ready');
    socket.send({ type: 'hello', lastSeq });
    return socket;
  }

  it('sends session-created and session-updated in order, and a resuming client gets exactly what it lacks', async () => {
    const account = await seedAccount();
    const live = await channel(account, 0);
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    for (const id of ids) await sendMessage(account, id, `p ${id}`);
    await api(`/api/projects/${account.projectId}/sessions/${ids[0]}`, account.token, {
      method: 'PATCH',
      body: JSON.stringify({ title: 'Named' }),
    });
    await live.waitFor(() => live.events().length >= 3, '3 project events');
    const events = live.events();
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(
      events
        .filter((e) => e.type === 'session-created')
        .map((e) => (e.session as { sessionId: string }).sessionId),
    ).toEqual(ids);
    expect(
      events.some(
        (e) => e.type === 'session-updated' && (e.changes as { title?: string }).title === 'Named',
      ),
    ).toBe(true);

    const head = events.at(-1)!.seq;
    const resumed = await channel(account, 1);
    await resumed.waitFor(() => resumed.events().length >= head - 1, 'the missing events');
    await new Promise((r) => setTimeout(r, 0));
    expect(resumed.events().map((e) => e.seq)).toEqual(events.slice(1).map((e) => e.seq));
    const current = await channel(account, head);
    await current.waitForType('presence');
    expect(current.events()).toEqual([]);
    expect(current.presence().count).toBeGreaterThanOrEqual(2);
  });

  it('titles a new session as the reducer does, on the project channel and in the state alike', async () => {
    const account = await seedAccount();
    const live = await channel(account, 0);
    const sessionId = crypto.randomUUID();
    const prompt = `   ${'a'.repeat(120)}  \nsecond line`;
    await sendMessage(account, sessionId, prompt);
    await live.waitFor(() => live.events().length >= 1, 'session-created');
    const created = live.events().find((e) => e.type === 'session-created');
    const title = titleFromPrompt(prompt);
    expect(title).toBe(`${'a'.repeat(79)}…`);
    expect((created!.session as { title: string }).title).toBe(title);
    expect((await stateOf(sessionId, account.token)).title).toBe(title);
  });
});

describe('project channel frames', () => {
  it('splits live and catch-up events under MAX_FRAME_BYTES and keeps their order', async () => {
    const account = await seedAccount();
    const live = await connectPath(`/api/projects/${account.projectId}/ws`, account.token);
    await live.waitForType('ready');
    live.send({ type: 'hello', lastSeq: 0 });
    await live.waitForType('presence');
    // Eight ~300 KB events: 2.4 MB in one publish, more than two frames' worth.
    const bodies = Array.from({ length: 8 }, (_, i) => ({
      type: 'config-updated' as const,
      config: { i, blob: 'x'.repeat(300_000) },
    }));
    await env.PROJECTS.getByName(account.projectId).publish(account.projectId, bodies);
    const eventsFrames = (socket: TestSocket) => socket.frames.filter((f) => f.type === 'events');
    await live.waitFor(() => live.events().length === 8, '8 live events');
    const resumed = await connectPath(`/api/projects/${account.projectId}/ws`, account.token);
    await resumed.waitForType('ready');
    resumed.send({ type: 'hello', lastSeq: 2 });
    await resumed.waitFor(() => resumed.events().length === 6, 'the 6 missing events');
    for (const socket of [live, resumed]) {
      expect(eventsFrames(socket).length).toBeGreaterThanOrEqual(3);
      for (const frame of eventsFrames(socket)) {
        expect(JSON.stringify(frame).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
      }
    }
    expect(live.events().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(resumed.events().map((e) => e.seq)).toEqual([3, 4, 5, 6, 7, 8]);
  });
});

describe('live sockets follow revocation', () => {
  /** Every socket kind a member can hold: session (direct and on a shard), project, ingest. */
  async function openAll(
    owner: Account,
    member: { token?: string; headers?: Record<string, string> },
    sessionId: string,
  ) {
    const h = member.headers ?? {};
    const session = async () => {
      const s = await connectPath(`/api/sessions/${sessionId}/ws`, member.token, h);
      await s.waitForType('ready');
      s.send({ type: 'hello', lastSeq: 0 });
      return s;
    };
    // SHARD_THRESHOLD is 2 in tests: the owner's two sockets fill the session, the member's go
    // to a viewer shard; the member's first is opened before them, so it is direct.
    const direct = await session();
    const o1 = await connectPath(`/api/sessions/${sessionId}/ws`, owner.token);
    await o1.waitForType('ready');
    const sharded = await session();
    const project = await connectPath(`/api/projects/${owner.projectId}/ws`, member.token, h);
    await project.waitForType('ready');
    const lease = await api(
      `/api/projects/${owner.projectId}/sessions/${sessionId}/builds`,
      member.token,
      { method: 'POST', body: JSON.stringify({ agent: 'replay' }), headers: h },
    );
    expect(lease.status).toBe(201);
    const { buildId } = (await lease.json()) as { buildId: string };
    const ingest = await connectPath(`/api/sessions/${sessionId}/ingest`, member.token, h);
    ingest.send({ type: 'hello', buildId, producerEpoch: 1 });
    await ingest.waitForType('ready');
    return { direct, sharded, project, ingest, owner: o1 };
  }

  async function setup() {
    const owner = await seedAccount('owner');
    const editor = await seedAccount('editor', owner.projectId);
    const sessionId = crypto.randomUUID();
    expect((await sendMessage(owner, sessionId, 'first')).status).toBe(201);
    return { owner, editor, sessionId };
  }

  const closedWith = async (s: TestSocket, reason: string) => {
    await s.waitFor(() => s.closed !== undefined, `close (${reason})`);
    expect(s.closed).toEqual({ code: 1008, reason });
  };

  type SocketKind = 'direct' | 'sharded' | 'project' | 'ingest';
  /** What a socket is after the change: closed with the reason, read-only, or as it was. */
  type Outcome = { closed: string } | 'read-only' | 'open';
  interface Change {
    name: string;
    /** How the member signs in: a personal access token or a Better Auth browser sign-in. */
    via: 'token' | 'cookie';
    /** Makes the change over HTTP and returns its status (the sockets follow before it returns). */
    apply: (ctx: { owner: Account; member: Member }) => Promise<number>;
    expect: Record<SocketKind, Outcome>;
  }
  interface Member {
    userId: string;
    email: string;
    token?: string;
    headers?: Record<string, string>;
  }

  const all = (outcome: Outcome): Record<SocketKind, Outcome> => ({
    direct: outcome,
    sharded: outcome,
    project: outcome,
    ingest: outcome,
  });

  /** The authorization matrix: every change of access × every socket kind. */
  const matrix: Change[] = [
    {
      name: 'member removed',
      via: 'token',
      apply: async ({ owner, member }) =>
        (
          await api(`/api/projects/${owner.projectId}/members/${member.userId}`, owner.token, {
            method: 'DELETE',
          })
        ).status,
      expect: all({ closed: 'access revoked: removed from the project' }),
    },
    {
      name: 'role changed to viewer',
      via: 'token',
      apply: async ({ owner, member }) =>
        (
          await api(`/api/projects/${owner.projectId}/members`, owner.token, {
            method: 'PUT',
            body: JSON.stringify({ email: member.email, role: 'viewer' }),
          })
        ).status,
      expect: {
        direct: 'read-only',
        sharded: 'read-only',
        project: 'open',
        ingest: { closed: 'access revoked: role changed to viewer' },
      },
    },
    {
      name: 'personal access token revoked',
      via: 'token',
      apply: async ({ member }) => {
        const list = (await (await api('/api/tokens', member.token)).json()) as {
          tokens: { id: string }[];
        };
        return (await api(`/api/tokens/${list.tokens[0]!.id}`, member.token, { method: 'DELETE' }))
          .status;
      },
      expect: all({ closed: 'access revoked: token revoked' }),
    },
    {
      name: 'signed out',
      via: 'cookie',
      apply: async ({ member }) =>
        (
          await SELF.fetch(`${BASE}/api/auth/sign-out`, {
            method: 'POST',
            headers: member.headers,
          })
        ).status,
      expect: all({ closed: 'access revoked: signed out' }),
    },
  ];

  async function editorOf(owner: Account, via: Change['via']): Promise<Member> {
    if (via === 'token') {
      const editor = await seedAccount('editor', owner.projectId);
      return { ...editor, email: `${editor.userId}@example.test` };
    }
    const email = `${crypto.randomUUID()}@example.test`;
    const cookie = await signUp(email, 'correct horse battery');
    const added = await api(`/api/projects/${owner.projectId}/members`, owner.token, {
      method: 'PUT',
      body: JSON.stringify({ email, role: 'editor' }),
    });
    expect(added.status).toBe(200);
    const { userId } = (await added.json()) as { userId: string };
    return { userId, email, headers: { Cookie: cookie, Origin: BASE } };
  }

  /** Waits until the object has handled everything sent before. */
  const alive = (s: TestSocket) => s.barrier();

  it.each(matrix)(
    '$name: every socket kind closes, turns read-only or stays, before the answer',
    async (change) => {
      const owner = await seedAccount('owner');
      const sessionId = crypto.randomUUID();
      expect((await sendMessage(owner, sessionId, 'first')).status).toBe(201);
      const member = await editorOf(owner, change.via);
      const sockets = await openAll(owner, member, sessionId);
      expect([200, 204]).toContain(await change.apply({ owner, member }));
      for (const kind of ['direct', 'sharded', 'project', 'ingest'] as const) {
        const socket = sockets[kind];
        const outcome = change.expect[kind];
        if (outcome === 'open') {
          await alive(socket);
          expect(socket.closed, `${change.name} × ${kind}`).toBeUndefined();
        } else if (outcome === 'read-only') {
          socket.send({ type: 'send', clientMessageId: crypto.randomUUID(), text: 'sneak' });
          await socket.waitFor(
            (f) => f.some((x) => x.type === 'error' && x.code === 'forbidden'),
            `${change.name} × ${kind}: forbidden`,
          );
          expect(socket.closed, `${change.name} × ${kind}`).toBeUndefined();
        } else {
          await closedWith(socket, outcome.closed);
        }
      }
      // The owner's socket stays, and read-only sockets still receive the owner's next prompt.
      expect(sockets.owner.closed).toBeUndefined();
      expect((await sendMessage(owner, sessionId, 'next prompt')).status).toBe(201);
      for (const kind of ['direct', 'sharded'] as const) {
        if (change.expect[kind] !== 'read-only') continue;
        const socket = sockets[kind];
        await socket.waitFor(
          () => socket.events().some((e) => e.type === 'user-message' && e.text === 'next prompt'),
          'the next prompt',
        );
      }
      const state = await stateOf(sessionId, owner.token);
      expect(state.messages.map((m) => m.text)).not.toContain('sneak');
    },
  );

  it('a write frame re-checks the role: a member removed behind the server’s back cannot send', async () => {
    const { owner, editor, sessionId } = await setup();
    const socket = await connectPath(`/api/sessions/${sessionId}/ws`, editor.token);
    await socket.waitForType('ready');
    socket.send({ type: 'hello', lastSeq: 0 });
    await env.DB.prepare('DELETE FROM project_members WHERE project_id = ? AND user_id = ?')
      .bind(owner.projectId, editor.userId)
      .run();
    socket.send({ type: 'send', clientMessageId: crypto.randomUUID(), text: 'stored anyway?' });
    await closedWith(socket, 'access revoked: removed from the project');
    const state = await stateOf(sessionId, owner.token);
    expect(state.messages.map((m) => m.text)).toEqual(['first']);
  });
});
