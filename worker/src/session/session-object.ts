import { DurableObject } from 'cloudflare:workers';
import {
  answerClose,
  closeQuietly,
  errorFrame,
  type IngestAttachment,
  SessionRoom,
  SqliteSessionStore,
  type Step,
  sendQuietly,
  sessionReadyFrame,
  toProducer,
} from '@kiln/channel';
import {
  type ClientFrame,
  clientFrame,
  type EventsPage,
  INTERRUPT_GRACE_MS,
  LEASE_GRACE_MS,
  LEASE_MS,
  MAX_SOCKETS_PER_PRINCIPAL,
  PING_FRAME,
  PONG_FRAME,
  type PresenceView,
  type SessionState,
  SHARD_CAPACITY,
  SHARD_THRESHOLD,
  STUCK_SESSION_MS,
  type Viewer,
} from '@kiln/protocol';
import {
  accessFromHeaders,
  applyRevocation,
  type Revocation,
  type SocketPrincipal,
} from '../auth/socket-access';
import { recheckWrite } from '../auth/write-check';
import type { Env } from '../env';
import { CommitWaiters } from '../streams/commit-waiters';
import {
  redactForViewers,
  type SessionSubscribers,
  sessionSubscribers,
} from './session-subscribers';
import { ShardRouter } from './shards';
import {
  NAME_HEADER,
  PRINCIPAL_HEADER,
  PROJECT_HEADER,
  ROLE_HEADER,
  SESSION_HEADER,
  type SubscriberAttachment,
  sendError,
  socketsOf,
  subscriberAttachment,
  tooManySockets,
  VIEWER_CANNOT_WRITE,
} from './subscriber';
import { type SessionHealth, WriteThrough } from './write-through';

export {
  NAME_HEADER,
  PRINCIPAL_HEADER,
  PROJECT_HEADER,
  ROLE_HEADER,
  SESSION_HEADER,
} from './subscriber';

/** A runner's (or `kiln replay`'s) socket: the room's fields and who holds it, for revocation. */
type IngestSocket = IngestAttachment & { access: SocketPrincipal };
type Attachment = SubscriberAttachment | IngestSocket;

export type { SessionHealth } from './write-through';

/**
 * One generation session (DESIGN §4): the runtime glue around a `SessionRoom` (@kiln/channel),
 * which holds the producer protocol, leases, commits and timers. This object owns the DO SQLite
 * store, the sockets (WebSocket Hibernation API), the one alarm, the subscribers' catch-up and
 * fan-out, and the write-through of projections to D1.
 */
export class SessionObject extends DurableObject<Env> {
  private readonly store: SqliteSessionStore;
  private readonly log: SqliteSessionStore['log'];
  private readonly room: SessionRoom<WebSocket, IngestSocket>;
  /** Subscriber sockets: catch-up, fan-out, refusal of bad frames, presence. */
  private readonly subscribers: SessionSubscribers;
  private readonly timing: ReturnType<typeof timingFrom>;
  /** D1, a field so tests can put a failing binding in its place. */
  private d1: D1Database;
  private readonly writeThrough: WriteThrough;
  private readonly shards: ShardRouter;
  /** Start-up (tables, alarm, state), run once under blockConcurrencyWhile; see `started`. */
  private starting: Promise<void> | undefined;
  /** Durable Streams long-poll and SSE readers waiting for a commit (worker/src/streams). */
  private readonly streamWaiters = new CommitWaiters();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Pings are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.store = new SqliteSessionStore(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    this.log = this.store.log;
    this.d1 = env.DB;
    this.timing = timingFrom(env);
    this.room = new SessionRoom({
      store: this.store,
      timing: this.timing,
      sockets: {
        all: () => ctx.getWebSockets('ingest'),
        attachment: (ws) => ws.deserializeAttachment() as IngestSocket,
        setAttachment: (ws, attachment) => ws.serializeAttachment(attachment),
        lastPingAt: (ws) => ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime(),
      },
    });
    this.writeThrough = new WriteThrough(this.store, env, () => this.d1);
    this.shards = new ShardRouter(
      ctx.storage.sql,
      env,
      () => this.requireState().sessionId,
      this.timing.shardCapacity,
    );
    this.subscribers = sessionSubscribers({
      ctx,
      log: this.log,
      shards: this.shards,
      state: () => this.requireState(),
    });
  }

  // --- RPC (called by the worker after it has authorized the caller) ---

  /** Creates the session's state on first use; later calls are no-ops. */
  async init(sessionId: string, projectId: string): Promise<void> {
    await this.started();
    this.room.init(sessionId, projectId);
  }

  /** Leases a new build to `holder` (`user:<id>` or `runner:<id>`); returns its id and expiry. */
  async leaseBuild(holder: string, agent: string, model: string) {
    return this.run(() => this.room.leaseBuild(holder, agent, model));
  }

  /**
   * Leases the session's one import build (`POST …/builds {import: true}`) to `holder`, again
   * whatever its lease status, so a re-import continues its producer seqs; returns the producer
   * seq already acknowledged, or null when another holder created it.
   */
  async leaseImportBuild(holder: string, agent: string, model: string) {
    return this.run(() => this.room.leaseImportBuild(holder, agent, model));
  }

  /**
   * Cron sweep (DESIGN §4): a session whose turn has run with no new event for `STUCK_SESSION_MS`
   * gets that turn finished (`failed: stuck`, or `completed` when every todo is done). Returns
   * whether it finished one.
   */
  async sweepIfStuck(now = Date.now()): Promise<boolean> {
    return this.run(() => this.room.sweepIfStuck(now));
  }

  /**
   * Appends a person's prompt as a `user-message`, idempotent on `clientMessageId`: a retry
   * returns the message already stored (`created: false`) and appends nothing. A running agent is
   * told about it on its ingest socket.
   */
  async appendUserMessage(
    clientMessageId: string,
    text: string,
    authorId: string,
  ): Promise<{ messageId: string; seq: number; created: boolean }> {
    return this.run(() => this.room.appendUserMessage(clientMessageId, text, authorId));
  }

  /** For viewer shards: the state at head, for a snapshot frame. */
  async viewerSnapshot(): Promise<{ seq: number; state: SessionState }> {
    await this.started();
    const state = this.requireState();
    return { seq: state.headSeq, state };
  }

  /** For viewer shards: a subscriber's interrupt; returns why not, if it could not. */
  async interruptTurn(): Promise<string | undefined> {
    return this.run(() => this.room.interrupt());
  }

  /**
   * For viewer shards: who watches through a shard, and how many of its sockets closed. The
   * merged view reaches every shard through `deliverPresence`; it is also returned.
   */
  async shardReport(index: number, closed: number, viewers: Viewer[]): Promise<PresenceView> {
    await this.started();
    this.shards.report(index, closed, viewers);
    return this.subscribers.reportViewers(`shard:${index}`, viewers);
  }

  /**
   * For the runner hub: the newest checkpoint (`{turnId, agent, state}`) from the log, handed to
   * the next turn's `build` so a follow-up continues the conversation on any runner. Read from the
   * log rather than D1's write-through, which may lag the turn's end.
   */
  async lastCheckpoint(): Promise<{ turnId: string; agent: string; state: string } | null> {
    await this.started();
    const event = this.room.lastCheckpoint();
    // As JSON text: RPC would flatten an opaque `unknown` state to never.
    return event
      ? { turnId: event.turnId, agent: event.agent, state: JSON.stringify(event.state ?? null) }
      : null;
  }

  async getState(): Promise<SessionState | null> {
    await this.started();
    return this.state;
  }

  /** Appends a `session-status` unless the session has it already; returns the status now. */
  async appendStatus(status: 'queued' | 'failed', reason: string): Promise<string> {
    return this.run(() => this.room.appendStatus(status, reason));
  }

  /** Appends a `session-renamed` (a person renamed the session); no-op for the same title. */
  async rename(title: string): Promise<void> {
    return this.run(() => this.room.rename(title));
  }

  /** `POST …/interrupt`: like the socket's `interrupt`; false when no turn is running. */
  async requestInterrupt(): Promise<boolean> {
    return (await this.run(() => this.room.interrupt())) === undefined;
  }

  /**
   * A change of access (DESIGN §8): closes or re-roles the sockets it concerns, here and on the
   * viewer shards. Returns how many sockets of the revoked person remain (0: forget this object).
   */
  async revoke(change: Revocation): Promise<number> {
    await this.started();
    const { closed, remaining } = applyRevocation(
      this.ctx.getWebSockets(),
      (a) => ((a as Attachment).role === 'ingest' ? 'ingest' : 'subscriber'),
      this.store.getMeta('projectId'),
      change,
    );
    for (const ws of closed) this.onSocketGone(ws);
    return remaining + (await this.shards.revoke(change));
  }

  /** Closes every socket and deletes the log (the session was deleted). */
  async destroy(): Promise<void> {
    await this.started();
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, 1000, 'session deleted');
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.room.reset();
    // The next call creates the tables again.
    this.starting = undefined;
  }

  /** Up to `limit` events after `after`, with checkpoint state removed. */
  async getEvents(after: number, limit: number): Promise<EventsPage> {
    await this.started();
    const state = this.requireState();
    const events = this.log.read(after, limit).map(redactForViewers);
    const last = events[events.length - 1];
    const nextAfter = last && last.seq < state.headSeq ? last.seq : null;
    return { events, headSeq: state.headSeq, nextAfter };
  }

  /**
   * `getEvents`, after waiting up to `timeoutMs` (ms) for an event past `after`: the Durable
   * Streams live modes (worker/src/streams/session-stream.ts). null when none came in time.
   */
  async waitForEvents(after: number, limit: number, timeoutMs: number): Promise<EventsPage | null> {
    await this.started();
    const arrived = await this.streamWaiters.wait(after, this.requireState().headSeq, timeoutMs);
    return arrived ? this.getEvents(after, limit) : null;
  }

  async getHealth(): Promise<SessionHealth> {
    await this.started();
    return this.writeThrough.health(this.state?.headSeq ?? 0);
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('expected a WebSocket upgrade', { status: 426 });
    }
    const sessionId = request.headers.get(SESSION_HEADER);
    const projectId = request.headers.get(PROJECT_HEADER);
    const principal = request.headers.get(PRINCIPAL_HEADER);
    const access = accessFromHeaders(request.headers);
    if (!sessionId || !projectId || !principal || !access) {
      return new Response('missing routing headers', { status: 400 });
    }
    await this.init(sessionId, projectId);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const path = new URL(request.url).pathname;
    let attachment: Attachment;
    if (path.endsWith('/ingest')) {
      attachment = { role: 'ingest', principal, access, badFrames: 0 };
      this.ctx.acceptWebSocket(server, ['ingest']);
    } else {
      const subscribers = this.ctx.getWebSockets('subscriber');
      if (socketsOf(subscribers, access.id) >= MAX_SOCKETS_PER_PRINCIPAL) {
        return tooManySockets(MAX_SOCKETS_PER_PRINCIPAL);
      }
      if (subscribers.length >= this.timing.shardThreshold) {
        return this.shards.handTo(request);
      }
      const subscriber = subscriberAttachment({
        principal,
        displayName: request.headers.get(NAME_HEADER),
        role: request.headers.get(ROLE_HEADER),
        access,
      });
      attachment = subscriber;
      this.ctx.acceptWebSocket(server, ['subscriber']);
      sendQuietly(
        server,
        sessionReadyFrame(sessionId, this.state?.headSeq ?? 0, subscriber.viewerId),
      );
    }
    server.serializeAttachment(attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  // --- WebSocket Hibernation API ---

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.started();
    const attachment = ws.deserializeAttachment() as Attachment;
    if (attachment.role === 'subscriber') {
      const frame = this.subscribers.read(ws, message, clientFrame);
      if (frame) await this.onClientFrame(ws, attachment, frame);
      return;
    }
    const frame = this.apply(this.room.readIngest(ws, message));
    if (!frame) return;
    if (frame.type === 'hello' && !(await this.mayWrite(ws, attachment))) return;
    this.apply(this.room.onIngestFrame(ws, frame));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await this.started();
    answerClose(ws, code);
    this.onSocketGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.started();
    answerClose(ws, 'error');
    this.onSocketGone(ws);
  }

  // --- alarm: every timer (D1 write-through, leases, interrupt deadline) ---

  /** Runs the due timers; throws (so the platform retries) if a commit fails. */
  override async alarm(): Promise<void> {
    await this.started();
    const { writeThrough } = this.apply(this.room.tick());
    const state = this.state;
    if (!writeThrough || !state) return;
    const retryIn = await this.writeThrough.run(state);
    if (retryIn !== undefined) this.apply(this.room.retryWriteThrough(Date.now() + retryIn));
  }

  // --- subscribers ---

  private async onClientFrame(
    ws: WebSocket,
    attachment: SubscriberAttachment,
    frame: ClientFrame,
  ): Promise<void> {
    switch (frame.type) {
      case 'hello':
        await this.subscribers.hello(ws, frame.lastSeq);
        return;
      case 'ping':
        this.subscribers.pong(ws);
        return;
      case 'ack':
        this.subscribers.ack(ws, frame.seq);
        return;
      case 'send':
      case 'interrupt': {
        if (!attachment.canWrite) {
          sendError(ws, 'forbidden', VIEWER_CANNOT_WRITE, false);
          return;
        }
        if (!(await this.mayWrite(ws, attachment))) return;
        if (frame.type === 'interrupt') {
          this.interrupt(ws);
          return;
        }
        await this.appendUserMessage(frame.clientMessageId, frame.text, attachment.principal);
        return;
      }
      default: {
        const unknown: never = frame;
        throw new Error(`unhandled client frame ${JSON.stringify(unknown)}`);
      }
    }
  }

  private onSocketGone(ws: WebSocket): void {
    const attachment: Attachment | null = ws.deserializeAttachment();
    if (attachment?.role === 'subscriber') this.subscribers.gone(ws);
  }

  // --- start-up and the room's effects ---

  /**
   * Start-up, the partyserver way: under blockConcurrencyWhile (no event interleaves), once. A
   * failure is caught inside it, so the platform does not reset the object, and rethrown to the
   * call that hit it; it is not remembered, so the next call tries again.
   */
  private started(): Promise<void> {
    this.starting ??= (async () => {
      let failure: { error: unknown } | undefined;
      await this.ctx.blockConcurrencyWhile(async () => {
        try {
          this.store.migrate();
          this.shards.migrate();
          const alarmAt = await this.ctx.storage.getAlarm();
          this.apply(this.room.start(alarmAt, (headSeq) => this.writeThrough.behind(headSeq)));
        } catch (error) {
          failure = { error };
        }
      });
      if (failure) {
        this.starting = undefined;
        throw failure.error;
      }
    })();
    return this.starting;
  }

  /** Starts up if needed, then hands the room a call and applies what it decided. */
  private async run<T>(call: () => Step<WebSocket, T>): Promise<T> {
    await this.started();
    return this.apply(call());
  }

  /** Carries out what the room decided, in order; returns the room's result. */
  private apply<T>(step: Step<WebSocket, T>): T {
    for (const effect of step.effects) {
      switch (effect.kind) {
        case 'send':
          sendQuietly(effect.socket, toProducer(effect.frame));
          break;
        case 'close':
          closeQuietly(effect.socket, effect.code, effect.reason);
          break;
        case 'publish':
          this.subscribers.publish(effect.events);
          this.streamWaiters.wake(effect.events.at(-1)?.seq ?? 0);
          break;
        case 'alarm':
          // Not awaited: the output gate holds every reply until this write is durable, and a
          // failed write resets the object, so no caller sees a state whose alarm was lost.
          void this.ctx.storage.setAlarm(effect.at);
          break;
        default: {
          const unknown: never = effect;
          throw new Error(`unhandled room effect ${JSON.stringify(unknown)}`);
        }
      }
    }
    return step.value;
  }

  private get state(): SessionState | null {
    return this.room.state;
  }

  private requireState(): SessionState {
    return this.room.requireState();
  }

  /** A subscriber's `interrupt`; told why, if no turn is running. */
  private interrupt(ws: WebSocket): void {
    const refusal = this.apply(this.room.interrupt());
    if (refusal) sendError(ws, 'conflict', refusal, false);
  }

  // --- helpers ---

  /** Re-checks a person's current role before a write frame (send, interrupt, ingest hello). */
  private mayWrite(ws: WebSocket, attachment: Attachment): Promise<boolean> {
    const projectId = this.requireState().projectId;
    return recheckWrite(this.env.DB, projectId, ws, attachment, (message) =>
      attachment.role === 'ingest'
        ? sendQuietly(ws, toProducer(errorFrame('forbidden', message, true)))
        : sendError(ws, 'forbidden', message, false),
    );
  }
}

/** Lifecycle durations: the protocol's, unless the environment overrides them (tests do). */
function timingFrom(env: Env) {
  const ms = (value: string | undefined, fallback: number) => (value ? Number(value) : fallback);
  return {
    leaseMs: ms(env.LEASE_MS, LEASE_MS),
    graceMs: ms(env.LEASE_GRACE_MS, LEASE_GRACE_MS),
    interruptGraceMs: ms(env.INTERRUPT_GRACE_MS, INTERRUPT_GRACE_MS),
    stuckMs: ms(env.STUCK_SESSION_MS, STUCK_SESSION_MS),
    shardThreshold: ms(env.SHARD_THRESHOLD, SHARD_THRESHOLD),
    shardCapacity: ms(env.SHARD_CAPACITY, SHARD_CAPACITY),
  };
}
