import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  applyEvent,
  createSessionState,
  parseFrame,
  ResumeLink,
  ResumingSubscriber,
  type SessionEvent,
  type SessionState,
  sessionServerFrame,
} from '@kiln/protocol';
import WebSocket from 'ws';
import { queryLocalD1 } from '../../scripts/dev-stack.ts';
import { pollUntil } from '../../scripts/processes.ts';
import type { BenchStack } from '../src/stack';

/** sha256 of a canonical JSON (keys sorted at every level). */
function stateHash(state: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canon(state)))
    .digest('hex');
}

/**
 * A subscriber that runs the shared `ResumingSubscriber` and always comes back: on any close it
 * reconnects and resumes from its head. Counts the events it was sent that it already had. Its
 * waits (`joined`, `until`) resolve on the frames it receives, with a timeout only as a bound.
 */
export class ChaosClient {
  ws: WebSocket | null = null;
  /** Sockets opened so far (reconnects included). */
  connections = 0;
  /** Connections that caught up with the head their `ready` announced. */
  caughtUp = 0;
  private stopped = false;
  private readonly resume: ResumeLink<SessionEvent, SessionState>;
  /** Checks of pending waits, run after every frame and close. */
  private readonly waits = new Set<() => void>();

  constructor(
    private readonly stack: BenchStack,
    readonly sessionId: string,
  ) {
    const initial = createSessionState(sessionId, stack.config.projectId);
    this.resume = new ResumeLink(new ResumingSubscriber(initial, applyEvent), (frame) =>
      this.ws?.send(JSON.stringify(frame)),
    );
  }

  get state(): SessionState {
    return this.resume.subscriber.state;
  }

  get headSeq() {
    return this.state.headSeq;
  }

  /** Events the server sent that this client already had (the protocol promises none). */
  get duplicates() {
    return this.resume.subscriber.duplicates;
  }

  connect(): void {
    if (this.stopped) return;
    const url = `${this.stack.server.replace(/^http/, 'ws')}/api/sessions/${this.sessionId}/ws`;
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.stack.config.token}` },
    });
    this.ws = ws;
    this.resume.disconnected();
    ws.on('message', (data: Buffer) => {
      const parsed = parseFrame(sessionServerFrame, data.toString());
      if (!parsed.ok) throw new Error(`chaos client: bad frame from the server: ${parsed.message}`);
      if (this.ws !== ws) return;
      if (this.resume.receive(parsed.frame).caughtUp) this.caughtUp++;
      this.checkWaits();
    });
    ws.on('error', () => undefined); // 'close' follows and reconnects
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.resume.disconnected();
      this.checkWaits();
      // Jittered, so fifty dropped clients do not all come back in the same instant.
      if (!this.stopped) setTimeout(() => this.connect(), 50 + Math.random() * 200);
    });
    this.connections++;
  }

  /** Has a socket opening or open that `drop` would cut (not one already closing). */
  get droppable(): boolean {
    return this.ws !== null && this.ws.readyState <= WebSocket.OPEN;
  }

  /**
   * Drops the socket abruptly (no close frame); it reconnects on its own, once per drop. False
   * when there was nothing to drop (`droppable` false).
   */
  drop(): boolean {
    if (!this.droppable) return false;
    // Sets readyState to CLOSING at once; 'close' (and the reconnect) follow.
    this.ws!.terminate();
    return true;
  }

  /**
   * Stops reading the socket (TCP buffers fill, the server must hold on) until `resumeReading`.
   * Reaches into ws's underlying net.Socket: ws has no pause of its own.
   */
  pauseReading(): void {
    this.netSocket().pause();
  }

  resumeReading(): void {
    this.netSocket().resume();
  }

  stop(): void {
    this.stopped = true;
    this.resume.stop();
    this.ws?.terminate();
  }

  /** Resolves once a connection has caught up with the head its `ready` announced. */
  joined(timeoutMs = 60_000): Promise<void> {
    return this.waitFor(
      () => this.caughtUp > 0,
      () => 'no connection caught up',
      timeoutMs,
    );
  }

  /** Resolves when the client's head reaches `seq`. */
  until(seq: number, timeoutMs = 60_000): Promise<void> {
    return this.waitFor(
      () => this.headSeq >= seq,
      () => `client stuck at ${this.headSeq} of ${seq}`,
      timeoutMs,
    );
  }

  private netSocket(): { pause(): void; resume(): void } {
    const socket = (this.ws as unknown as { _socket?: { pause(): void; resume(): void } } | null)
      ?._socket;
    if (!socket) throw new Error('chaos client: no open socket');
    return socket;
  }

  private waitFor(done: () => boolean, failure: () => string, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        this.waits.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waits.delete(check);
        reject(new Error(`chaos client: ${failure()} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waits.add(check);
    });
  }

  private checkWaits(): void {
    for (const check of [...this.waits]) check();
  }
}

/** Opens `n` clients on the session and resolves once every one has joined (caught up). */
export async function joinedClients(
  stack: BenchStack,
  sessionId: string,
  n: number,
): Promise<ChaosClient[]> {
  const list = Array.from({ length: n }, () => new ChaosClient(stack, sessionId));
  for (const client of list) client.connect();
  await Promise.all(list.map((client) => client.joined()));
  return list;
}

/** The session's head as the server reports it. */
export async function serverHead(stack: BenchStack, sessionId: string): Promise<number> {
  return (await api<{ headSeq: number }>(stack, `/api/sessions/${sessionId}/health`)).headSeq;
}

export async function api<T>(stack: BenchStack, path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${stack.server}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${stack.config.token}`,
      'content-type': 'application/json',
    },
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Rows from the stack's local D1, read with wrangler as e2e/harness.ts does. */
function d1Query<T>(stack: BenchStack, sql: string): Promise<T[]> {
  return queryLocalD1<T>(join(stack.dir, 'state'), sql);
}

/** Waits until D1's projections caught up with the log (polled: nothing announces it; 60 s bound). */
export async function d1CaughtUp(stack: BenchStack, sessionId: string): Promise<void> {
  await pollUntil('D1 caught up with the log', async () => {
    const health = await api<{ d1LagEvents: number }>(stack, `/api/sessions/${sessionId}/health`);
    return health.d1LagEvents === 0 ? true : undefined;
  });
}

/**
 * The end of every chaos test: every client's reducer state hashes like the server's, and D1's
 * session row, messages and tool calls match the log's state.
 */
export async function expectConsistent(
  stack: BenchStack,
  sessionId: string,
  clients: readonly ChaosClient[],
): Promise<SessionState> {
  const server = await api<SessionState>(stack, `/api/sessions/${sessionId}/state`);
  for (const client of clients) await client.until(server.headSeq);
  const serverHash = stateHash(server);
  for (const client of clients) {
    if (stateHash(client.state) !== serverHash) {
      throw new Error(`a client's state differs from the server's at head ${server.headSeq}`);
    }
    if (client.duplicates > 0) throw new Error(`a client got ${client.duplicates} events twice`);
  }
  await d1CaughtUp(stack, sessionId);
  const id = sessionId.replaceAll("'", "''");
  const [row] = await d1Query<{ head_seq: number; message_count: number; tool_call_count: number }>(
    stack,
    `SELECT head_seq, message_count, tool_call_count FROM generation_sessions WHERE id = '${id}'`,
  );
  const messages = await d1Query<{ message_id: string; text: string }>(
    stack,
    `SELECT message_id, text FROM messages WHERE session_id = '${id}'`,
  );
  const tools = await d1Query<{ n: number }>(
    stack,
    `SELECT count(*) AS n FROM generation_tool_calls WHERE session_id = '${id}'`,
  );
  if (row?.head_seq !== server.headSeq)
    throw new Error(`D1 head ${row?.head_seq} ≠ ${server.headSeq}`);
  if (tools[0]?.n !== server.toolCalls.length) throw new Error('D1 tool calls differ from the log');
  const texts = new Map(messages.map((m) => [m.message_id, m.text]));
  for (const message of server.messages) {
    if (texts.get(message.messageId) !== message.text) {
      throw new Error(`D1 text of ${message.messageId} differs from the log`);
    }
  }
  return server;
}
