import { DurableObject } from 'cloudflare:workers';
import { answerClose, closeQuietly, planCatchUp, sendQuietly } from '@kiln/channel';
import {
  applyProjectEvent,
  createProjectState,
  MAX_BAD_FRAMES,
  MAX_SOCKETS_PER_PRINCIPAL,
  PING_FRAME,
  PONG_FRAME,
  PROTOCOL_VERSION,
  type ProjectEvent,
  type ProjectEventBody,
  type ProjectState,
  parseFrame,
  projectClientFrame,
  REPLAY_LIMIT,
  REPLAY_ROUND_EVENTS,
  type Viewer,
} from '@kiln/protocol';
import {
  accessFromHeaders,
  applyRevocation,
  type Revocation,
  type SocketPrincipal,
} from '../auth/socket-access';
import type { Env } from '../env';
import { budgetRefusal, type CatchUpBudget, mayCatchUp, spend } from '../session/catch-up-budget';
import { NAME_HEADER, PRINCIPAL_HEADER, PROJECT_HEADER } from '../session/session-object';
import { socketsOf, tooManySockets } from '../session/subscriber';

interface Attachment {
  viewerId: string;
  principal: string;
  displayName: string;
  since: number;
  ready: boolean;
  badFrames: number;
  /** Who holds the socket and by which credential (revocations find it by this). */
  access?: SocketPrincipal;
  catchUpBudget?: CatchUpBudget;
}

/**
 * One project's channel (DESIGN §3): its events in DO SQLite (`seq` primary key), a socket per
 * open tab or terminal with the same ready / hello {lastSeq} / events-or-snapshot rules as a
 * session, and presence. The worker publishes every project mutation here after D1 commits it.
 */
export class ProjectObject extends DurableObject<Env> {
  private state: ProjectState | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
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
        const event = { ...body, seq: state.headSeq + 1, at } as ProjectEvent;
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
    if (events.length > 0) {
      const frame = JSON.stringify({ type: 'events', events });
      for (const ws of this.ctx.getWebSockets()) {
        if ((ws.deserializeAttachment() as Attachment).ready) sendQuietly(ws, frame);
      }
    }
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
    if (closed.length > 0) this.broadcastPresence(...closed);
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
    sendQuietly(
      server,
      JSON.stringify({
        type: 'ready',
        projectId,
        headSeq: state.headSeq,
        protocolVersion: PROTOCOL_VERSION,
        viewerId: attachment.viewerId,
      }),
    );
    this.broadcastPresence();
    return new Response(null, { status: 101, webSocket: client });
  }

  // --- WebSocket Hibernation API ---

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = ws.deserializeAttachment() as Attachment;
    const parsed =
      typeof message === 'string'
        ? parseFrame(projectClientFrame, message)
        : { ok: false as const, message: 'frames must be JSON text' };
    if (!parsed.ok) {
      const badFrames = attachment.badFrames + 1;
      const fatal = badFrames > MAX_BAD_FRAMES;
      sendQuietly(
        ws,
        JSON.stringify({ type: 'error', code: 'bad-frame', message: parsed.message, fatal }),
      );
      if (fatal) closeQuietly(ws, 1008, 'too many bad frames');
      else ws.serializeAttachment({ ...attachment, badFrames });
      return;
    }
    const frame = parsed.frame;
    switch (frame.type) {
      case 'ping':
        sendQuietly(ws, PONG_FRAME);
        return;
      case 'hello': {
        const state = this.state;
        if (!state) return;
        const budget = mayCatchUp(attachment.catchUpBudget, Date.now());
        if (!budget.allowed) {
          const message = budgetRefusal(budget.budget);
          sendQuietly(
            ws,
            JSON.stringify({ type: 'error', code: 'rate-limited', message, fatal: false }),
          );
          return;
        }
        const sent = this.catchUp(ws, frame.lastSeq, state);
        ws.serializeAttachment({
          ...attachment,
          ready: true,
          catchUpBudget: spend(budget.budget, sent),
        });
        this.sendPresence(ws);
        return;
      }
      default: {
        const unknown: never = frame;
        throw new Error(`unhandled project frame ${JSON.stringify(unknown)}`);
      }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    answerClose(ws, code);
    this.broadcastPresence(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    answerClose(ws, 'error');
    this.broadcastPresence(ws);
  }

  // --- helpers ---

  /** Same rules as a session (PROTOCOL §2): the missing events in rounds, or a snapshot. */
  private catchUp(ws: WebSocket, lastSeq: number, state: ProjectState): number {
    const plan = planCatchUp(lastSeq, state.headSeq, REPLAY_LIMIT);
    let sent = 0;
    const send = (frame: string) => {
      sent += frame.length;
      sendQuietly(ws, frame);
    };
    const snapshot = () => send(JSON.stringify({ type: 'snapshot', seq: state.headSeq, state }));
    switch (plan.kind) {
      case 'none':
        return sent;
      case 'ahead':
        send(
          JSON.stringify({
            type: 'error',
            code: 'ahead-of-head',
            message: `lastSeq ${lastSeq} is past head ${state.headSeq}`,
            fatal: false,
          }),
        );
        snapshot();
        return sent;
      case 'snapshot':
        snapshot();
        return sent;
      case 'events': {
        let after = plan.after;
        while (after < state.headSeq) {
          const events = this.read(after, REPLAY_ROUND_EVENTS);
          if (events.length === 0) break;
          send(JSON.stringify({ type: 'events', events }));
          after = events[events.length - 1]!.seq;
        }
        return sent;
      }
      default: {
        const unknown: never = plan;
        throw new Error(`unhandled catch-up ${JSON.stringify(unknown)}`);
      }
    }
  }

  private viewers(...except: WebSocket[]): Viewer[] {
    return this.ctx
      .getWebSockets()
      .filter((ws) => !except.includes(ws))
      .map((ws) => ws.deserializeAttachment() as Attachment)
      .map((a) => ({ viewerId: a.viewerId, displayName: a.displayName, since: a.since }));
  }

  private sendPresence(ws: WebSocket): void {
    sendQuietly(ws, JSON.stringify({ type: 'presence', viewers: this.viewers() }));
  }

  private broadcastPresence(...except: WebSocket[]): void {
    const frame = JSON.stringify({ type: 'presence', viewers: this.viewers(...except) });
    for (const ws of this.ctx.getWebSockets()) {
      if (!except.includes(ws) && (ws.deserializeAttachment() as Attachment).ready) {
        sendQuietly(ws, frame);
      }
    }
  }

  private read(after: number, limit: number): ProjectEvent[] {
    return this.ctx.storage.sql
      .exec<{ seq: number; at: number; body: string }>(
        'SELECT seq, at, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
        after,
        limit,
      )
      .toArray()
      .map((row) => ({ ...JSON.parse(row.body), seq: row.seq, at: row.at }) as ProjectEvent);
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
