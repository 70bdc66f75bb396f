import { DurableObject } from 'cloudflare:workers';
import {
  answerClose,
  closeQuietly,
  projectReadyFrame,
  projectSnapshotFrame,
  SubscriberChannel,
  type SubscriberRecord,
  sendQuietly,
} from '@kiln/channel';
import {
  applyProjectEvent,
  createProjectState,
  MAX_SOCKETS_PER_PRINCIPAL,
  PING_FRAME,
  PONG_FRAME,
  type ProjectEvent,
  type ProjectEventBody,
  type ProjectState,
  projectClientFrame,
  projectEvent,
} from '@kiln/protocol';
import {
  accessFromHeaders,
  applyRevocation,
  type Revocation,
  type SocketPrincipal,
} from '../auth/socket-access';
import type { Env } from '../env';
import { NAME_HEADER, PRINCIPAL_HEADER, PROJECT_HEADER } from '../session/session-object';
import { socketsOf, tooManySockets } from '../session/subscriber';

interface Attachment extends SubscriberRecord {
  principal: string;
  /** Who holds the socket and by which credential (revocations find it by this). */
  access?: SocketPrincipal;
}

/**
 * One project's channel (DESIGN §3): its events in DO SQLite (`seq` primary key), a socket per
 * open tab or terminal with the same ready / hello {lastSeq} / events-or-snapshot rules as a
 * session, and presence. The worker publishes every project mutation here after D1 commits it.
 */
export class ProjectObject extends DurableObject<Env> {
  private state: ProjectState | null = null;
  /** Catch-up, fan-out (split under the frame limit), refusal and presence of its sockets. */
  private readonly channel: SubscriberChannel<WebSocket, ProjectEvent, ProjectState, Attachment>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.channel = new SubscriberChannel({
      attachments: {
        get: (ws): Attachment => ws.deserializeAttachment(),
        set: (ws, attachment) => ws.serializeAttachment(attachment),
      },
      sockets: () => ctx.getWebSockets(),
      source: {
        head: () => this.state?.headSeq ?? 0,
        read: (after, limit) => this.read(after, limit),
        snapshot: () => {
          const state = this.loaded();
          return { seq: state.headSeq, state };
        },
      },
      snapshotFrame: projectSnapshotFrame,
      // Project events are few and each one a change someone waits to see.
      urgent: () => true,
      // The project channel has no acks, so it never holds a socket back; answer as a session.
      resync: (ws) => {
        const state = this.loaded();
        this.channel.sendSnapshot(ws, state.headSeq, state);
        return state.headSeq;
      },
      presence: { kind: 'roster' },
    });
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        'CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL)',
      );
      ctx.storage.sql.exec(
        'CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
      );
      this.state = this.load();
    });
  }

  // --- RPC (the worker calls these after authorizing and committing to D1) ---

  /** Appends events in order and broadcasts them; returns them with their seqs. */
  async publish(projectId: string, bodies: ProjectEventBody[]): Promise<ProjectEvent[]> {
    let state = this.requireState(projectId);
    const at = Date.now();
    const events: ProjectEvent[] = [];
    this.ctx.storage.transactionSync(() => {
      for (const body of bodies) {
        const event: ProjectEvent = { ...body, seq: state.headSeq + 1, at };
        this.ctx.storage.sql.exec(
          'INSERT INTO events (seq, at, body) VALUES (?, ?, ?)',
          event.seq,
          at,
          JSON.stringify(body),
        );
        state = applyProjectEvent(state, event);
        events.push(event);
      }
    });
    this.state = state;
    this.channel.publish(events);
    return events;
  }

  async getState(projectId: string): Promise<ProjectState> {
    return this.requireState(projectId);
  }

  /**
   * A change of access: closes the sockets of a removed member or an ended credential (the
   * channel is read-only, so a role change leaves them). Returns the person's sockets left.
   */
  async revoke(change: Revocation): Promise<number> {
    const projectId = this.state?.projectId;
    const { closed, remaining } = applyRevocation(
      this.ctx.getWebSockets(),
      () => 'project',
      projectId,
      change,
    );
    for (const ws of closed) this.channel.gone(ws);
    return remaining;
  }

  /** Closes every socket and forgets the channel (the project was deleted). */
  async destroy(): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, 1000, 'project deleted');
    await this.ctx.storage.deleteAll();
    this.state = null;
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('expected a WebSocket upgrade', { status: 426 });
    }
    const projectId = request.headers.get(PROJECT_HEADER);
    const principal = request.headers.get(PRINCIPAL_HEADER);
    const access = accessFromHeaders(request.headers);
    if (!projectId || !principal || !access) {
      return new Response('missing routing headers', { status: 400 });
    }
    if (socketsOf(this.ctx.getWebSockets(), access.id) >= MAX_SOCKETS_PER_PRINCIPAL) {
      return tooManySockets(MAX_SOCKETS_PER_PRINCIPAL);
    }
    const state = this.requireState(projectId);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const attachment: Attachment = {
      viewerId: crypto.randomUUID(),
      principal,
      displayName: request.headers.get(NAME_HEADER) ?? principal,
      since: Date.now(),
      ready: false,
      badFrames: 0,
      access,
    };
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(attachment);
    sendQuietly(server, projectReadyFrame(projectId, state.headSeq, attachment.viewerId));
    return new Response(null, { status: 101, webSocket: client });
  }

  // --- WebSocket Hibernation API ---

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const frame = this.channel.read(ws, message, projectClientFrame);
    switch (frame?.type) {
      case undefined:
        return; // refused and answered
      case 'ping':
        this.channel.pong(ws);
        return;
      case 'hello':
        await this.channel.hello(ws, frame.lastSeq);
        return;
      default: {
        const unknown: never = frame;
        throw new Error(`unhandled project frame ${JSON.stringify(unknown)}`);
      }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    answerClose(ws, code);
    this.channel.gone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    answerClose(ws, 'error');
    this.channel.gone(ws);
  }

  // --- helpers ---

  /** Rows `after+1 …` (at most `limit`), parsed with the protocol's schema: no row is trusted. */
  private read(after: number, limit: number): ProjectEvent[] {
    return this.ctx.storage.sql
      .exec<{ seq: number; at: number; body: string }>(
        'SELECT seq, at, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
        after,
        limit,
      )
      .toArray()
      .map((row) => projectEvent.parse({ ...JSON.parse(row.body), seq: row.seq, at: row.at }));
  }

  private load(): ProjectState | null {
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'projectId'")
      .toArray()[0];
    if (!row) return null;
    let state = createProjectState(row.value);
    for (;;) {
      const events = this.read(state.headSeq, 5000);
      if (events.length === 0) break;
      for (const event of events) state = applyProjectEvent(state, event);
    }
    return state;
  }

  /** The state of a channel that has sockets (`fetch` created it before accepting any). */
  private loaded(): ProjectState {
    if (!this.state) throw new Error('the project channel is not initialized');
    return this.state;
  }

  private requireState(projectId: string): ProjectState {
    if (!this.state) {
      this.ctx.storage.sql.exec(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('projectId', ?)",
        projectId,
      );
      this.state = createProjectState(projectId);
    }
    return this.state;
  }
}
