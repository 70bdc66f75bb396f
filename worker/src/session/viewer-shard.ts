import { DurableObject } from 'cloudflare:workers';
import {
  answerClose,
  isUrgent,
  SubscriberChannel,
  sendQuietly,
  sessionReadyFrame,
  sessionSnapshotFrame,
} from '@kiln/channel';
import {
  clientFrame,
  eventsPage,
  MAX_SOCKETS_PER_PRINCIPAL,
  PING_FRAME,
  PONG_FRAME,
  type PresenceView,
  REPLAY_ROUND_EVENTS,
  type SessionEvent,
  type SessionState,
} from '@kiln/protocol';
import { accessFromHeaders, applyRevocation, type Revocation } from '../auth/socket-access';
import { recheckWrite } from '../auth/write-check';
import type { Env } from '../env';
import {
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
  /** The session this shard serves (from its sockets' attachments, or the first upgrade). */
  private sessionId: string | undefined;
  private readonly channel: SubscriberChannel<
    WebSocket,
    SessionEvent,
    SessionState,
    SubscriberAttachment
  >;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.channel = new SubscriberChannel({
      attachments: {
        get: (ws): SubscriberAttachment => ws.deserializeAttachment(),
        set: (ws, attachment) => ws.serializeAttachment(attachment),
      },
      sockets: () => ctx.getWebSockets('subscriber'),
      // Same rules as the session's own catch-up, reading through the session's RPC. The
      // session's head may be past what was delivered here; the socket is caught up to the
      // session's head and later deliveries skip what it already has.
      source: {
        head: async () => {
          const head = Math.max(this.headSeq, (await this.session().getHealth()).headSeq);
          // The first socket fixes where this shard's stream starts: deliveries continue there.
          if (!this.started) this.start(head);
          return head;
        },
        read: (after, limit) => this.readFromSession(after, after + limit),
        snapshot: () => this.session().viewerSnapshot(),
      },
      snapshotFrame: sessionSnapshotFrame,
      urgent: isUrgent,
      // The session redacts before it delivers.
      resync: (ws) => {
        // Ordered after pending deliveries; the snapshot may be ahead of this shard's head.
        void this.enqueue(async () => {
          const { seq, state } = await this.session().viewerSnapshot();
          this.channel.sendSnapshot(ws, seq, state);
        });
        return this.headSeq;
      },
      presence: { kind: 'remote' },
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
    this.sessionId = sessionId;
    await this.enqueue(async () => {
      const first = events[0];
      if (!first) return;
      if (!this.started) this.start(first.seq - 1);
      let fresh = events.filter((e) => e.seq > this.headSeq);
      if (fresh[0] && fresh[0].seq > this.headSeq + 1) {
        // A batch went missing or came out of order: fetch what lies between.
        const missing = await this.readFromSession(this.headSeq, fresh[0].seq - 1);
        fresh = [...missing, ...fresh];
      }
      this.publish(fresh);
    });
  }

  /** The session's presence view (everyone, here and elsewhere), for this shard's sockets. */
  async deliverPresence(view: PresenceView): Promise<void> {
    this.channel.showPresence(view);
  }

  /**
   * A change of access: closes or re-roles this shard's sockets it concerns and reports the
   * viewers left to the session. Returns how many sockets of the revoked person remain.
   */
  async revoke(change: Revocation): Promise<number> {
    const sockets = this.ctx.getWebSockets('subscriber');
    const first: SubscriberAttachment | undefined = sockets[0]?.deserializeAttachment();
    const { closed, remaining } = applyRevocation(
      sockets,
      () => 'subscriber',
      first?.projectId,
      change,
    );
    for (const ws of closed) this.channel.gone(ws);
    // Their close handlers count them as closed when the peers answer; presence drops them now.
    if (closed[0]) await this.reportViewers(closed[0]);
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
    this.sessionId = sessionId;
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
    const { headSeq } = await this.session().getHealth();
    sendQuietly(server, sessionReadyFrame(sessionId, headSeq, attachment.viewerId));
    return new Response(null, { status: 101, webSocket: client });
  }

  // --- WebSocket Hibernation API ---

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const frame = this.channel.read(ws, message, clientFrame);
    if (!frame) return; // refused and answered
    switch (frame.type) {
      case 'hello': {
        let joined = false;
        // On the queue, so a catch-up (reading from the session) never interleaves a delivery.
        await this.enqueue(async () => {
          joined = await this.channel.hello(ws, frame.lastSeq);
        });
        if (joined) await this.reportViewers(ws);
        return;
      }
      case 'ack':
        this.channel.ack(ws, frame.seq);
        return;
      case 'ping':
        this.channel.pong(ws);
        return;
      case 'send':
      case 'interrupt': {
        const attachment: SubscriberAttachment = ws.deserializeAttachment();
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
          await this.session().appendUserMessage(
            frame.clientMessageId,
            frame.text,
            attachment.principal,
          );
          return;
        }
        const refusal = await this.session().interruptTurn();
        if (refusal) sendError(ws, 'conflict', refusal, false);
        return;
      }
      default: {
        const unknown: never = frame;
        throw new Error(`unhandled client frame ${JSON.stringify(unknown)}`);
      }
    }
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
    this.channel.publish(events);
    this.channel.fanout.flush(); // the session already batched: pass it on at once
  }

  /** Redacted events `after+1 … upTo` from the session. */
  private async readFromSession(after: number, upTo: number): Promise<SessionEvent[]> {
    const events: SessionEvent[] = [];
    while (after < upTo) {
      // RPC types cannot describe JSON `unknown` fields: validate what crosses the boundary.
      const page = eventsPage.parse(
        await this.session().getEvents(after, Math.min(REPLAY_ROUND_EVENTS, upTo - after)),
      );
      const last = page.events[page.events.length - 1];
      if (!last) break;
      events.push(...page.events);
      after = last.seq;
    }
    return events;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    // Keep the queue going after a failed task; the caller sees the failure.
    this.queue = run.catch((error: unknown) => console.error('viewer shard task failed', error));
    return run;
  }

  private async onSocketGone(ws: WebSocket): Promise<void> {
    this.channel.gone(ws);
    await this.reportViewers(ws, 1);
  }

  /**
   * Tells the session who watches through this shard (it merges them into its presence, answers
   * with the view and sends later ones through `deliverPresence`) and how many sockets closed (it counts sockets per
   * shard: +1 when it hands one over, −1 here).
   */
  private async reportViewers(anySocket: WebSocket, closed = 0): Promise<void> {
    const attachment: SubscriberAttachment | null = anySocket.deserializeAttachment();
    if (attachment?.shardIndex === undefined) return;
    const view = await this.session().shardReport(
      attachment.shardIndex,
      closed,
      this.channel.viewers(),
    );
    // Also forwarded by the session; taking the answer too means a socket that joined here is
    // shown the view even when the session's did not change (a shard woken knows none).
    this.channel.showPresence(view);
  }

  private session() {
    if (!this.sessionId) {
      const any: SubscriberAttachment | undefined = this.ctx
        .getWebSockets('subscriber')[0]
        ?.deserializeAttachment();
      this.sessionId = any?.sessionId;
    }
    if (!this.sessionId) throw new Error('viewer shard has no session yet');
    return this.env.SESSIONS.getByName(this.sessionId);
  }
}
