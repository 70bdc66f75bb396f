import { env, SELF } from 'cloudflare:test';
import {
  MAX_SESSIONS_PER_MINUTE,
  MAX_SIGN_INS_PER_MINUTE,
  MAX_SIGN_UPS_PER_MINUTE,
  MAX_TOKEN_REQUESTS_PER_MINUTE,
} from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { hashToken } from '../src/auth/principal';
import {
  type Account,
  api,
  BASE,
  connectPath,
  seedAccount,
  seedRunner,
  sendMessage,
  type TestSocket,
} from './helpers';

/** A client address of its own, so each test's rate-limit counts start at zero. */
const freshIp = () => `10.${[0, 0, 0].map(() => Math.floor(Math.random() * 250) + 1).join('.')}`;

const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string } }).error;

describe('sessions created per person per minute', () => {
  it(`refuses a new session past ${MAX_SESSIONS_PER_MINUTE} in a minute with 429 and Retry-After; messages to existing sessions and other people pass`, async () => {
    const account = await seedAccount();
    // Build leases create sessions without queueing turns (the queue caps are another limit).
    const lease = (sessionId: string) =>
      api(`/api/projects/${account.projectId}/sessions/${sessionId}/builds`, account.token, {
        method: 'POST',
        body: JSON.stringify({ agent: 'replay', model: 'm' }),
      });
    const sessions: string[] = [];
    for (let i = 0; i < MAX_SESSIONS_PER_MINUTE; i++) {
      const sessionId = crypto.randomUUID();
      sessions.push(sessionId);
      expect((await lease(sessionId)).status).toBe(201);
    }
    const over = crypto.randomUUID();
    const refused = await sendMessage(account, over, 'one too many');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('Retry-After'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await errorOf(refused)).toMatchObject({ code: 'rate-limited' });
    // Nothing was stored for the refused session.
    expect(
      await env.DB.prepare('SELECT COUNT(*) AS n FROM generation_sessions WHERE id = ?')
        .bind(over)
        .first('n'),
    ).toBe(0);
    // A build lease on a new session counts the same.
    expect((await lease(crypto.randomUUID())).status).toBe(429);
    // A follow-up in an existing session is not a new session.
    expect((await sendMessage(account, sessions[0]!, 'follow-up')).status).toBe(201);
    // Another person in the same project has their own minute.
    const editor = await seedAccount('editor', account.projectId);
    expect((await sendMessage(editor, crypto.randomUUID(), 'mine')).status).toBe(201);
  });
});

describe('Better Auth rate limiter (D1 storage)', () => {
  const signIn = (ip: string, email: string, password: string) =>
    SELF.fetch(`${BASE}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: BASE, 'CF-Connecting-IP': ip },
      body: JSON.stringify({ email, password }),
    });
  const signUp = (ip: string) =>
    SELF.fetch(`${BASE}/api/auth/sign-up/email`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: BASE, 'CF-Connecting-IP': ip },
      body: JSON.stringify({
        email: `${crypto.randomUUID()}@example.test`,
        password: 'correct horse battery',
        name: 'Ada',
      }),
    });

  it(`throttles email sign-ins per client IP after ${MAX_SIGN_INS_PER_MINUTE} attempts, counted in D1`, async () => {
    const ip = freshIp();
    const email = `${crypto.randomUUID()}@example.test`;
    for (let i = 0; i < MAX_SIGN_INS_PER_MINUTE; i++) {
      expect((await signIn(ip, email, 'wrong password')).status).toBe(401);
    }
    const throttled = await signIn(ip, email, 'wrong password');
    expect(throttled.status).toBe(429);
    expect(await errorOf(throttled)).toMatchObject({ code: 'rate-limited' });
    expect(Number(throttled.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    // The count lives in D1 (every isolate sees it), keyed by IP and path.
    const row = await env.DB.prepare(
      'SELECT count FROM auth_rate_limits WHERE key LIKE ? AND key LIKE ?',
    )
      .bind(`%${ip}%`, '%/sign-in/email%')
      .first<{ count: number }>();
    expect(row?.count).toBe(MAX_SIGN_INS_PER_MINUTE);
    // Another client is not affected.
    expect((await signIn(freshIp(), email, 'wrong password')).status).toBe(401);
  });

  it(`throttles sign-ups per client IP after ${MAX_SIGN_UPS_PER_MINUTE}`, async () => {
    const ip = freshIp();
    for (let i = 0; i < MAX_SIGN_UPS_PER_MINUTE; i++) expect((await signUp(ip)).status).toBe(200);
    const throttled = await signUp(ip);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('Retry-After')).not.toBeNull();
  });
});

describe('token creation and token sign-in', () => {
  it(`allow ${MAX_TOKEN_REQUESTS_PER_MINUTE} a minute, then answer 429 with Retry-After`, async () => {
    const account = await seedAccount();
    const create = () =>
      api('/api/tokens', account.token, { method: 'POST', body: JSON.stringify({ name: 'x' }) });
    for (let i = 0; i < MAX_TOKEN_REQUESTS_PER_MINUTE; i++)
      expect((await create()).status).toBe(201);
    const refused = await create();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toBe('60');
    expect(await errorOf(refused)).toMatchObject({ code: 'rate-limited' });
    // Another person still may.
    const other = await seedAccount();
    expect(
      (await api('/api/tokens', other.token, { method: 'POST', body: '{"name":"y"}' })).status,
    ).toBe(201);

    const ip = freshIp();
    const tokenSignIn = (token: string) =>
      SELF.fetch(`${BASE}/api/auth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Origin: BASE, 'CF-Connecting-IP': ip },
        body: JSON.stringify({ token }),
      });
    for (let i = 0; i < MAX_TOKEN_REQUESTS_PER_MINUTE; i++) {
      expect((await tokenSignIn(`kiln_pat_guess${i}`)).status).toBe(401);
    }
    expect((await tokenSignIn(account.token)).status).toBe(429);
  });
});

describe('ownership transfer', () => {
  async function coOwned() {
    const owner = await seedAccount('owner');
    const coOwner = await seedAccount('owner', owner.projectId);
    const editor = await seedAccount('editor', owner.projectId);
    return { owner, coOwner, editor, p: owner.projectId };
  }
  const members = (p: string, token: string, init: RequestInit) =>
    api(`/api/projects/${p}/members`, token, init);
  const transfer = (p: string, token: string, userId: string) =>
    api(`/api/projects/${p}/owner`, token, { method: 'POST', body: JSON.stringify({ userId }) });
  const ownerOf = (p: string) =>
    env.DB.prepare('SELECT owner_id FROM projects WHERE id = ?').bind(p).first('owner_id');

  it('a co-owner can neither remove nor demote the owner of record, nor transfer', async () => {
    const { owner, coOwner, editor, p } = await coOwned();
    const removed = await api(`/api/projects/${p}/members/${owner.userId}`, coOwner.token, {
      method: 'DELETE',
    });
    expect(removed.status).toBe(409);
    expect((await errorOf(removed)).message).toContain('transfer ownership first');
    const demoted = await members(p, coOwner.token, {
      method: 'PUT',
      body: JSON.stringify({ email: `${owner.userId}@example.test`, role: 'viewer' }),
    });
    expect(demoted.status).toBe(409);
    expect((await transfer(p, coOwner.token, coOwner.userId)).status).toBe(403);
    expect((await transfer(p, editor.token, editor.userId)).status).toBe(403);
    expect(await ownerOf(p)).toBe(owner.userId);
    const role = await env.DB.prepare(
      'SELECT role FROM project_members WHERE project_id = ? AND user_id = ?',
    )
      .bind(p, owner.userId)
      .first('role');
    expect(role).toBe('owner');
  });

  it('the owner transfers to a member: owner_id and whose runners build change, and the old owner may then be removed', async () => {
    const { owner, editor, p } = await coOwned();
    expect((await transfer(p, owner.token, crypto.randomUUID())).status).toBe(404);
    const res = await transfer(p, owner.token, editor.userId);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      ownerId: editor.userId,
      member: { userId: editor.userId, role: 'owner' },
    });
    expect(await ownerOf(p)).toBe(editor.userId);
    // The new owner's own runner now builds the project.
    const runner = await seedRunner(editor);
    const socket: TestSocket = await connectPath('/api/runners/connect', runner.token);
    socket.send({ type: 'hello', runnerId: 'r', version: '0', agents: ['demo'], capacity: 1 });
    const sessionId = crypto.randomUUID();
    expect((await sendMessage(owner, sessionId, 'build on the new owner')).status).toBe(201);
    await socket.waitFor((f) => f.some((x) => x.type === 'build' && x.sessionId === sessionId));
    // The old owner is now a co-owner whom the new owner may remove.
    expect(
      (await api(`/api/projects/${p}/members/${owner.userId}`, editor.token, { method: 'DELETE' }))
        .status,
    ).toBe(204);
    socket.close();
  });

  it('is refused while the project has turns queued on the current owner’s hub', async () => {
    const { owner, editor, p } = await coOwned();
    // The owner has a runner token of their own and it is not connected: the turn waits there.
    await seedRunner(owner);
    expect((await sendMessage(owner, crypto.randomUUID(), 'waits')).status).toBe(201);
    const refused = await transfer(p, owner.token, editor.userId);
    expect(refused.status).toBe(409);
    expect(await ownerOf(p)).toBe(owner.userId);
  });
});

describe('404 alike', () => {
  /** The response with the id in its message replaced, so two answers can be compared whole. */
  async function shape(res: Response, id: string) {
    return { status: res.status, body: (await res.text()).replaceAll(id, '<id>') };
  }

  it('"no such session" and "not yours" answer the same, and so do projects', async () => {
    const owner = await seedAccount();
    const stranger = await seedAccount();
    const sessionId = crypto.randomUUID();
    expect((await sendMessage(owner, sessionId, 'private')).status).toBe(201);
    const missing = crypto.randomUUID();
    for (const path of ['state', 'events', 'health', 'traces', 'ws']) {
      const headers = path === 'ws' ? { Upgrade: 'websocket' } : undefined;
      const theirs = await api(`/api/sessions/${sessionId}/${path}`, stranger.token, { headers });
      const none = await api(`/api/sessions/${missing}/${path}`, stranger.token, { headers });
      const a = await shape(theirs, sessionId);
      expect(a.status).toBe(404);
      expect(a).toEqual(await shape(none, missing));
    }
    const p = owner.projectId;
    const q = crypto.randomUUID();
    const projectCalls: [string, RequestInit][] = [
      ['', {}],
      ['/members', {}],
      ['/sessions', {}],
      ['', { method: 'DELETE' }],
      ['', { method: 'PATCH', body: JSON.stringify({ name: 'mine now' }) }],
      [
        `/sessions/${sessionId}/messages`,
        {
          method: 'POST',
          body: JSON.stringify({ clientMessageId: crypto.randomUUID(), text: 'x', agent: 'demo' }),
        },
      ],
    ];
    for (const [suffix, init] of projectCalls) {
      const a = await shape(await api(`/api/projects/${p}${suffix}`, stranger.token, init), p);
      const b = await shape(await api(`/api/projects/${q}${suffix}`, stranger.token, init), q);
      expect(a.status).toBe(404);
      expect(a).toEqual(b);
    }
    // A session id of another project, posted to one's own project, is "no session" too.
    const taken = await sendMessage(stranger, sessionId, 'hijack the id');
    const fresh = await sendMessage(stranger, missing, 'x');
    expect(fresh.status).toBe(201);
    expect(await shape(taken, sessionId)).toEqual({
      status: 404,
      body: JSON.stringify({
        error: { code: 'not-found', message: 'no session <id> in this project' },
      }),
    });
  });
});

describe('GET /api/health', () => {
  it('tells anyone the status and lag numbers only; session ids and errors only to the operator', async () => {
    const sessionId = crypto.randomUUID();
    const secret = `D1_ERROR: secret detail ${crypto.randomUUID()}`;
    const health = env.WRITE_THROUGH_HEALTH.getByName('global');
    await health.report(sessionId, 7, secret);
    try {
      const person: Account = await seedAccount();
      for (const token of [undefined, person.token, 'not-the-operator']) {
        const res = await api('/api/health', token);
        expect(res.status).toBe(200);
        const text = await res.text();
        expect(text).not.toContain(sessionId);
        expect(text).not.toContain('secret detail');
        const body = JSON.parse(text) as { writeThrough: Record<string, unknown> };
        expect(Object.keys(body.writeThrough).sort()).toEqual(['laggingSessions', 'maxLagEvents']);
        expect(body.writeThrough.maxLagEvents).toBeGreaterThanOrEqual(7);
      }
      const full = (await (await api('/api/health', 'test-operator-token')).json()) as {
        writeThrough: { worst: { sessionId: string; lastError: string }[] };
      };
      expect(full.writeThrough.worst).toContainEqual(
        expect.objectContaining({ sessionId, lastError: secret }),
      );
    } finally {
      await health.report(sessionId, 0, null);
    }
  });
});

describe('checks already on main that had no test', () => {
  it('sign-in, sign-up, sign-out and token sign-in refuse a foreign Origin and accept their own', async () => {
    const account = await seedAccount();
    const post = (path: string, origin: string, body: unknown) =>
      SELF.fetch(`${BASE}/api/auth/${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Origin: origin },
        body: JSON.stringify(body),
      });
    const email = `${crypto.randomUUID()}@example.test`;
    const calls: [string, unknown, number][] = [
      ['sign-up/email', { email, password: 'correct horse battery', name: 'A' }, 200],
      ['sign-in/email', { email, password: 'correct horse battery' }, 200],
      ['token', { token: account.token }, 204],
      ['sign-out', {}, 204],
    ];
    for (const [path, body, ok] of calls) {
      const foreign = await post(path, 'https://evil.example', body);
      expect(`${path} ${foreign.status}`).toBe(`${path} 403`);
      expect(foreign.headers.getSetCookie()).toEqual([]);
      expect(`${path} ${(await post(path, BASE, body)).status}`).toBe(`${path} ${ok}`);
    }
    // The foreign sign-up created no account (the own one did, once).
    expect(
      await env.DB.prepare('SELECT COUNT(*) AS n FROM users WHERE email = ?')
        .bind(email)
        .first('n'),
    ).toBe(1);
  });

  it("a personal token's lastUsedAt is filled on use, at most one write a minute", async () => {
    const account = await seedAccount();
    const hash = await hashToken(account.token);
    const lastUsed = () =>
      env.DB.prepare('SELECT last_used_at FROM api_tokens WHERE token_hash = ?')
        .bind(hash)
        .first<number | null>('last_used_at');
    expect(await lastUsed()).toBeNull();
    const before = Date.now();
    expect((await api('/api/me', account.token)).status).toBe(200);
    const first = await lastUsed();
    expect(first).toBeGreaterThanOrEqual(before);
    expect((await api('/api/me', account.token)).status).toBe(200);
    expect(await lastUsed()).toBe(first);
    // Listed to its owner.
    const list = (await (await api('/api/tokens', account.token)).json()) as {
      tokens: { lastUsedAt: number | null }[];
    };
    expect(list.tokens[0]?.lastUsedAt).toBe(first);
    // Older than a minute: written again.
    await env.DB.prepare('UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?')
      .bind(before - 61_000, hash)
      .run();
    expect((await api('/api/me', account.token)).status).toBe(200);
    expect(await lastUsed()).toBeGreaterThanOrEqual(before);
  });
});
