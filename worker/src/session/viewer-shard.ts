import { DurableObject } from 'cloudflare:workers';
import {
  answerClose,
  eventFrames,
  Fanout,
  isUrgent,
  planCatchUp,
  sendQuietly,
} from '@kiln/channel';
import {
  type ClientFrame,
  eventsPage,
  MAX_SOCKETS_PER_PRINCIPAL,
  PING_FRAME,
  PONG_FRAME,
  PROTOCOL_VERSION,
  REPLAY_LIMIT,
  REPLAY_ROUND_EVENTS,
  type SessionEvent,
  type Viewer,
} from '@kiln/protocol';
import { accessFromHeaders, applyRevocation, type Revocation } from '../auth/socket-access';
import { recheckWrite } from '../auth/write-check';
import type { Env } from '../env';
import { budgetRefusal, mayCatchUp, spend } from './catch-up-budget';
import {
  clientFrameOf,
  LAGGING_MESSAGE,
  NAME_HEADER,
  PRINCIPAL_HEADER,
  PROJECT_HEADER,
  ROLE_HEADER,
  SESSION_HEADER,
  SHARD_INDEX_HEADER,
  type SubscriberAttachment,
  sendError,
  socketsOf,
  subscriberAttachment,
  tooManySockets,
  VIEWER_CANNOT_WRITE,
  viewerOf,
} from './subscriber';

/**
 * A viewer shard (DESIGN §4): past `SHARD_THRESHOLD` direct subscribers, a SessionDO hands new
 * subscriber sockets to shards, each holding at most `SHARD_CAPACITY`, and feeds each shard one
 * batch per flush instead of sending to every socket itself.
 *
 * A shard keeps the same promises as the session: `ready` first, `hello {lastSeq}` answered with
 * the missing events in bounded rounds or a snapshot, then live batches with no gap and no repeat.
 * It knows `headSeq`, the last seq the session delivered to it; every delivery and every catch-up
 * runs on one queue, so a catch-up (which reads from the session) never interleaves with a live
 * batch. A delivery that skips seqs makes the shard fetch the missing events first.
 */
export class ViewerShard extends DurableObject<Env> {
  private headSeq = 0;
  /** False until the shard knows where its stream starts (first catch-up or delivery). */
  private started = false;
  private queue: Promise<void> = Promise.resolve();
  private readonly fanout: Fanout<WebSocket>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.fanout = new Fanout<WebSocket>({
      subscribers: () => this.ready().map(([ws]) => ws),
      count: () => this.ready().length,
      urgent: isUrgent,
      send: sendQuietly,
      redact: (event) => event, // the session redacts before it delivers
      lagging: (ws) => sendError(ws, 'lagging', LAGGING_MESSAGE, false),
      resync: (ws) => {
        // Ordered after pending deliveries; the snapshot may be ahead of this shard's head.
        void this.enqueue(async () => {
          const { seq, state } = await this.session(ws).viewerSnapshot();
          sendQuietly(ws, JSON.stringify({ type: 'snapshot', seq, state }));
          this.fanout.markSent(ws, seq);
        });
        return this.headSeq;
      },
    });
    void ctx.blockConcurrencyWhile(async () => {
      const stored = await ctx.storage.get<number>('headSeq');
      this.headSeq = stored ?? 0;
      this.started = stored !== undefined;
    });
  }

  // --- RPC from the SessionDO ---

  /** Live events (already redacted), in seq order; called once per session flush. */
  async deliver(sessionId: string, events: SessionEvent[]): Promise<void> {
    await this.enqueue(async () => {
      const first = events[0];
      if (!first) return;
      if (!this.started) this.start(first.seq - 1);
      let fresh = events.filter((e) => e.seq > this.headSeq);
      if (fresh[0] && fresh[0].seq > this.headSeq + 1) {
        // A batch went missing or came out of order: fetch what lies between.
        const missing = await this.readFromSession(sessionId, this.headSeq, fresh[0].seq - 1);
        fresh = [...missing, ...fresh];
      }
      this.publish(fresh);
    });
  }

  /** The session's presence list, to pass on to this shard's sockets. */
  async deliverPresence(viewers: Viewer[]): Promise<void> {
    const frame = JSON.stringify({ type: 'presence', viewers });
    for (const [ws] of this.ready()) sendQuietly(ws, frame);
  }

  /**
   * A change of access: closes or re-roles this shard's sockets it concerns and reports the
   * viewers left to the session. Returns how many sockets of the revoked person remain.
   */
  async revoke(change: Revocation): Promise<number> {
    const sockets = this.ctx.getWebSockets('subscriber');
    const first = sockets[0]?.deserializeAttachment() as SubscriberAttachment | undefined;
    const { closed, remaining } = applyRevocation(
      sockets,
      () => 'subscriber',
      first?.projectId,
      change,
    );
    for (const ws of closed) this.fanout.forget(ws);
    // Their close handlers count them as closed when the peers answer; presence drops them now.
    if (closed.length > 0) await this.reportViewers(closed[0]!, closed);
    return remaining;
  }

  // --- sockets ---

  override async fetch(request: Request): Promise<Response> {
    const sessionId = request.headers.get(SESSION_HEADER);
    const principal = request.headers.get(PRINCIPAL_HEADER);
    const shardIndex = Number(request.headers.get(SHARD_INDEX_HEADER));
    const access = accessFromHeaders(request.headers);
    if (!sessionId || !principal || !access || !Number.isInteger(shardIndex)) {
      return new Response('missing routing headers', { status: 400 });
    }
    const subscribers = this.ctx.getWebSockets('subscriber');
    if (socketsOf(subscribers, access.id) >= MAX_SOCKETS_PER_PRINCIPAL) {
      return tooManySockets(MAX_SOCKETS_PER_PRINCIPAL);
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const attachment = subscriberAttachment({
      principal,
      displayName: request.headers.get(NAME_HEADER),
      role: request.headers.get(ROLE_HEADER),
      sessionId,
      projectId: request.headers.get(PROJECT_HEADER) ?? undefined,
      shardIndex,
      access,
    });
    this.ctx.acceptWebSocket(server, ['subscriber']);
    server.serializeAttachment(attachment);
    const { headSeq } = await this.session(server).getHealth();
    sendQuietly(
      server,
      JSON.stringify({
        type: 'ready',
        sessionId,
        headSeq,
        protocolVersion: PROTOCOL_VERSION,
        viewerId: attachment.viewerId,
      }),
    );
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = ws.deserializeAttachment() as SubscriberAttachment;
    const frame = clientFrameOf(ws, attachment, message);
    if (frame) await this.onClientFrame(ws, attachment, frame);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    answerClose(ws, code);
    await this.onSocketGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    answerClose(ws, 'error');
    await this.onSocketGone(ws);
  }

  // --- private ---

  private async onClientFrame(
    ws: WebSocket,
    attachment: SubscriberAttachment,
    frame: ClientFrame,
  ): Promise<void> {
    const session = this.session(ws);
    switch (frame.type) {
      case 'hello': {
        const budget = mayCatchUp(attachment.catchUpBudget, Date.now());
        if (!budget.allowed) {
          sendError(ws, 'rate-limited', budgetRefusal(budget.budget), false);
          return;
        }
        let sent = 0;
        await this.enqueue(async () => {
          sent = await this.catchUp(ws, frame.lastSeq);
        });
        ws.serializeAttachment({
          ...attachment,
          ready: true,
          catchUpBudget: spend(budget.budget, sent),
        });
        if (!attachment.ready) await this.reportViewers(ws);
        return;
      }
      case 'ack':
        this.fanout.ack(ws, frame.seq);
        return;
      case 'ping':
        sendQuietly(ws, JSON.stringify({ type: 'pong' }));
        return;
      case 'send':
      case 'interrupt': {
        if (!attachment.canWrite) {
          sendError(ws, 'forbidden', VIEWER_CANNOT_WRITE, false);
          return;
        }
        const allowed =
          attachment.projectId !== undefined &&
          (await recheckWrite(this.env.DB, attachment.projectId, ws, attachment, (message) =>
            sendError(ws, 'forbidden', message, false),
          ));
        if (!allowed) return;
        if (frame.type === 'send') {
          await session.appendUserMessage(frame.clientMessageId, frame.text, attachment.principal);
          return;
        }
        const refusal = await session.interruptTurn();
        if (refusal) sendError(ws, 'conflict', refusal, false);
        return;
      }
      default: {
        const unknown: never = frame;
        throw new Error(`unhandled client frame ${JSON.stringify(unknown)}`);
      }
    }
  }

  /**
   * Same rules as the session's own catch-up, reading through the session's RPC. The session's
   * head may be past what was delivered here; the socket is caught up to the session's head and
   * later deliveries skip what it already has. Returns how many characters it sent.
   */
  private async catchUp(ws: WebSocket, lastSeq: number): Promise<number> {
    const session = this.session(ws);
    let sent = 0;
    const send = (frame: string) => {
      sent += frame.length;
      sendQuietly(ws, frame);
    };
    const sessionId = (ws.deserializeAttachment() as SubscriberAttachment).sessionId!;
    const head = Math.max(this.headSeq, (await session.getHealth()).headSeq);
    // The first socket fixes where this shard's stream starts: deliveries continue from there.
    if (!this.started) this.start(head);
    const plan = planCatchUp(lastSeq, head, REPLAY_LIMIT);
    switch (plan.kind) {
      case 'none':
        break;
      case 'ahead':
      case 'snapshot': {
        const { seq, state } = await session.viewerSnapshot();
        if (plan.kind === 'ahead') {
          sendError(
            ws,
            'ahead-of-head',
            `lastSeq ${lastSeq} is past head ${seq}; replacing your state with a snapshot`,
            false,
          );
        }
        send(JSON.stringify({ type: 'snapshot', seq, state }));
        this.fanout.markSent(ws, seq);
        return sent;
      }
      case 'events': {
        let after = plan.after;
        while (after < head) {
          const events = await this.readFromSession(
            sessionId,
            after,
            Math.min(head, after + REPLAY_ROUND_EVENTS),
          );
          if (events.length === 0) break;
          for (const frame of eventFrames(events)) send(frame);
          after = events[events.length - 1]!.seq;
        }
        break;
      }
      default: {
        const unknown: never = plan;
        throw new Error(`unhandled catch-up ${JSON.stringify(unknown)}`);
      }
    }
    this.fanout.markSent(ws, head);
    return sent;
  }

  private start(headSeq: number): void {
    this.started = true;
    this.headSeq = headSeq;
    void this.ctx.storage.put('headSeq', headSeq);
  }

  private publish(events: SessionEvent[]): void {
    const last = events[events.length - 1];
    if (!last) return;
    this.headSeq = last.seq;
    void this.ctx.storage.put('headSeq', this.headSeq);
    this.fanout.publish(events);
    this.fanout.flush(); // the session already batched: pass it on at once
  }

  /** Redacted events `after+1 … upTo` from the session. */
  private async readFromSession(
    sessionId: string,
    after: number,
    upTo: number,
  ): Promise<SessionEvent[]> {
    const stub = this.env.SESSIONS.getByName(sessionId);
    const events: SessionEvent[] = [];
    while (after < upTo) {
      // RPC types cannot describe JSON `unknown` fields: validate what crosses the boundary.
      const page = eventsPage.parse(
        await stub.getEvents(after, Math.min(REPLAY_ROUND_EVENTS, upTo - after)),
      );
      if (page.events.length === 0) break;
      events.push(...page.events);
      after = page.events[page.events.length - 1]!.seq;
    }
    return events;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    // Keep the queue going after a failed task; the caller sees the failure.
    this.queue = run.catch((error: unknown) => console.error('viewer shard task failed', error));
    return run;
  }

  private ready(): [WebSocket, SubscriberAttachment][] {
    const ready: [WebSocket, SubscriberAttachment][] = [];
    for (const ws of this.ctx.getWebSockets('subscriber')) {
      const attachment = ws.deserializeAttachment() as SubscriberAttachment;
      if (attachment.ready) ready.push([ws, attachment]);
    }
    return ready;
  }

  private async onSocketGone(ws: WebSocket): Promise<void> {
    this.fanout.forget(ws);
    await this.reportViewers(ws, [ws], 1);
  }

  /**
   * Tells the session who watches through this shard (it merges and broadcasts presence) and how
   * many sockets closed (it counts sockets per shard: +1 when it hands one over, −1 here).
   */
  private async reportViewers(
    anySocket: WebSocket,
    except: readonly WebSocket[] = [],
    closed = 0,
  ): Promise<void> {
    const attachment = anySocket.deserializeAttachment() as SubscriberAttachment | null;
    if (!attachment?.sessionId || attachment.shardIndex === undefined) return;
    const viewers = this.ready()
      .filter(([ws]) => !except.includes(ws))
      .map(([, a]) => viewerOf(a));
    await this.env.SESSIONS.getByName(attachment.sessionId).shardReport(
      attachment.shardIndex,
      closed,
      viewers,
    );
  }

  private session(ws: WebSocket) {
    const { sessionId } = ws.deserializeAttachment() as SubscriberAttachment;
    return this.env.SESSIONS.getByName(sessionId!);
  }
}
