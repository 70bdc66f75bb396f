import { env, SELF } from 'cloudflare:test';
import {
  applyPresence,
  NO_PRESENCE,
  type PresenceView,
  presenceDiffFrame,
  presenceFrame,
  type RunnerEventBody,
  type SessionEvent,
  type SessionServerFrame,
  type SessionState,
} from '@kiln/protocol';
import { expect } from 'vitest';
import { generateToken, hashToken } from '../src/auth/principal';

export const BASE = 'http://kiln.test';

export interface Account {
  userId: string;
  token: string;
  projectId: string;
}

/** A fresh user with a token and a project they own, written straight into D1. */
export async function seedAccount(
  role: 'owner' | 'editor' | 'viewer' = 'owner',
  projectId?: string,
): Promise<Account> {
  const userId = crypto.randomUUID();
  const token = generateToken();
  const now = Date.now();
  const project = projectId ?? crypto.randomUUID();
  await env.DB.batch([
    env.DB.prepare('INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)').bind(
      userId,
      `${userId}@example.test`,
      `User ${userId.slice(0, 4)}`,
      now,
    ),
    env.DB.prepare(
      'INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)',
    ).bind(crypto.randomUUID(), userId, 'test', await hashToken(token), now),
    ...(projectId
      ? []
      : [
          env.DB.prepare(
            'INSERT INTO projects (id, name, owner_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
          ).bind(project, 'Test project', userId, now, now),
        ]),
    env.DB.prepare(
      'INSERT INTO project_members (project_id, user_id, role, created_at) VALUES (?, ?, ?, ?)',
    ).bind(project, userId, role, now),
  ]);
  return { userId, token, projectId: project };
}

export function api(
  path: string,
  token: string | undefined,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set('Authorization', `Bearer ${token}`);
  if (init.body) headers.set('Content-Type', 'application/json');
  return SELF.fetch(`${BASE}${path}`, { ...init, headers });
}

/** Leases a build for `sessionId` (creating the session). */
export async function leaseBuild(account: Account, sessionId: string) {
  const res = await api(
    `/api/projects/${account.projectId}/sessions/${sessionId}/builds`,
    account.token,
    {
      method: 'POST',
      body: JSON.stringify({ agent: 'replay', model: 'test-model' }),
    },
  );
  expect(res.status).toBe(201);
  return (await res.json()) as { buildId: string; leaseExpiresAt: number };
}

/** A test-side socket that records every frame it receives. */
export class TestSocket {
  readonly frames: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];
  /** When the last frame arrived (ms), so a wait times out only on silence. */
  private lastFrameAt = 0;

  constructor(readonly ws: WebSocket) {
    ws.addEventListener('message', (event) => {
      this.frames.push(JSON.parse(event.data as string));
      this.lastFrameAt = Date.now();
      this.wake();
    });
    ws.addEventListener('close', (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.wake();
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /**
   * Waits until `predicate` holds over the frames received so far. Fails after 5 s in which no
   * frame arrived (a hang), not 5 s in all: a long stream on a slow machine is still progress.
   */
  async waitFor(
    predicate: (frames: Record<string, unknown>[]) => boolean,
    what = 'condition',
  ): Promise<void> {
    const started = Date.now();
    while (!predicate(this.frames)) {
      if (Date.now() > Math.max(started, this.lastFrameAt) + 5000)
        throw new Error(
          `timed out waiting for ${what}; got ${JSON.stringify(this.frames).slice(0, 2000)}`,
        );
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Waits for `n` frames of `type` and returns them. */
  async waitForType(type: string, n = 1): Promise<Record<string, unknown>[]> {
    await this.waitFor(
      (f) => f.filter((x) => x.type === type).length >= n,
      `${n} ${type} frame(s)`,
    );
    return this.frames.filter((x) => x.type === type);
  }

  /** Every event received in `events` frames, in arrival order. */
  events(): { seq: number; type: string; [k: string]: unknown }[] {
    return this.frames.flatMap((f) =>
      f.type === 'events' ? (f.events as { seq: number; type: string }[]) : [],
    );
  }

  /** Who watches, as a client folding every `presence` / `presence-diff` received shows it. */
  presence(): PresenceView {
    let view = NO_PRESENCE;
    for (const frame of this.frames) {
      if (frame.type === 'presence') view = applyPresence(view, presenceFrame.parse(frame));
      if (frame.type === 'presence-diff') {
        view = applyPresence(view, presenceDiffFrame.parse(frame));
      }
    }
    return view;
  }

  /** Waits until the presence view shows `count` viewers, and returns it. */
  async waitForPresence(count: number): Promise<PresenceView> {
    await this.waitFor(() => this.presence().count === count, `presence of ${count}`);
    return this.presence();
  }

  /**
   * A barrier: waits until the object has handled every frame sent before it. The ping is spelled
   * differently from `PING_FRAME`, which the runtime answers itself, ahead of frames the object
   * has not read yet; this one the object answers in order.
   */
  async barrier(): Promise<void> {
    const pongs = this.frames.filter((f) => f.type === 'pong').length;
    this.send('{ "type": "ping" }');
    await this.waitFor((f) => f.filter((x) => x.type === 'pong').length > pongs, 'pong');
  }

  close(): void {
    this.ws.close(1000, 'done');
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Opens `/api/sessions/:id/{ws|ingest}` as `token`. Returns the response when it is not an upgrade. */
export async function connect(
  sessionId: string,
  kind: 'ws' | 'ingest',
  token?: string,
  headers: Record<string, string> = {},
): Promise<TestSocket> {
  const res = await api(`/api/sessions/${sessionId}/${kind}`, token, {
    headers: { Upgrade: 'websocket', ...headers },
  });
  if (res.status !== 101 || !res.webSocket)
    throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  return new TestSocket(res.webSocket);
}

/** Opens an ingest socket and completes `hello`; returns it with the server's `ready`. */
export async function connectProducer(
  account: Account,
  sessionId: string,
  buildId: string,
  producerEpoch = 1,
) {
  const socket = await connect(sessionId, 'ingest', account.token);
  socket.send({ type: 'hello', buildId, producerEpoch });
  await socket.waitFor(
    (f) => f.some((x) => x.type === 'ready' || x.type === 'error'),
    'ingest ready',
  );
  return socket;
}

/** Sends events with producer seqs `first…` and waits for their ack. */
export async function produce(
  socket: TestSocket,
  firstProducerSeq: number,
  events: RunnerEventBody[],
): Promise<void> {
  socket.send({ type: 'events', firstProducerSeq, events });
  const last = firstProducerSeq + events.length - 1;
  await socket.waitFor(
    (f) => f.some((x) => x.type === 'ack' && (x.producerSeq as number) >= last),
    `ack ${last}`,
  );
}

export function textDeltas(messageId: string, parts: string[]): RunnerEventBody[] {
  return parts.map((delta) => ({ type: 'text-delta', messageId, delta }));
}

export type { SessionServerFrame };

/** A runner token for `account`'s user, written straight into D1 (hash only). */
export async function seedRunner(account: Account, name = 'test runner') {
  const runnerId = crypto.randomUUID();
  const token = generateToken('kiln_rt_');
  await env.DB.prepare(
    'INSERT INTO runner_tokens (id, user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)',
  )
    .bind(runnerId, account.userId, name, await hashToken(token), Date.now())
    .run();
  return { runnerId, token };
}

/** Opens a socket on any path as `token`; throws with the status when the upgrade is refused. */
export async function connectPath(
  path: string,
  token?: string,
  headers: Record<string, string> = {},
): Promise<TestSocket> {
  const res = await api(path, token, { headers: { Upgrade: 'websocket', ...headers } });
  if (res.status !== 101 || !res.webSocket)
    throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  return new TestSocket(res.webSocket);
}

/** Posts a prompt to a session (creating it on first use). */
export function sendMessage(
  account: Pick<Account, 'token' | 'projectId'>,
  sessionId: string,
  text: string,
  clientMessageId: string = crypto.randomUUID(),
  agent = 'demo',
) {
  return api(`/api/projects/${account.projectId}/sessions/${sessionId}/messages`, account.token, {
    method: 'POST',
    body: JSON.stringify({ clientMessageId, text, agent, model: '' }),
  });
}

/** A fresh account, a new session with a leased build, and its producer socket after `hello`. */
export async function openBuild(role: 'owner' | 'editor' = 'owner') {
  const account = await seedAccount(role);
  const sessionId = crypto.randomUUID();
  const { buildId } = await leaseBuild(account, sessionId);
  const producer = await connectProducer(account, sessionId, buildId);
  return { account, sessionId, buildId, producer };
}

/** A subscriber that has sent `hello {lastSeq}` after `ready`. */
export async function subscribe(
  sessionId: string,
  token: string,
  lastSeq: number,
): Promise<TestSocket> {
  const s = await connect(sessionId, 'ws', token);
  await s.waitForType('ready');
  s.send({ type: 'hello', lastSeq });
  return s;
}

/** `count` small events (`session-renamed t<from>…`) that coalescing leaves alone. */
export function renames(from: number, count: number): RunnerEventBody[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'session-renamed',
    title: `t${from + i}`,
  }));
}

/** `GET /state` as the caller. */
export async function stateOf(sessionId: string, token: string): Promise<SessionState> {
  const res = await api(`/api/sessions/${sessionId}/state`, token);
  expect(res.status).toBe(200);
  return (await res.json()) as SessionState;
}

/** The whole log through `GET /events`, page by page. */
export async function logOf(sessionId: string, token: string): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  let after = 0;
  for (;;) {
    const res = await api(`/api/sessions/${sessionId}/events?after=${after}&limit=5000`, token);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { events: SessionEvent[]; nextAfter: number | null };
    events.push(...page.events);
    if (page.nextAfter === null) return events;
    after = page.nextAfter;
  }
}
