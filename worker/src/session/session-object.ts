import { DurableObject } from 'cloudflare:workers';
import {
  admitFrame,
  checkEvents,
  coalesceDeltas,
  dropLateTurnEnds,
  finishOrphanedTurn,
  leaseActions,
  sendQuietly,
  sessionReadyFrame,
  TokenBucket,
} from '@kiln/channel';
import {
  applyEvents,
  type ClientFrame,
  clientFrame,
  createSessionState,
  type ErrorCode,
  type EventBody,
  type EventsPage,
  INTERRUPT_GRACE_MS,
  type IngestFrame,
  ingestFrame,
  LEASE_GRACE_MS,
  LEASE_MS,
  MAX_INGEST_EVENTS_PER_SECOND,
  MAX_SOCKETS_PER_PRINCIPAL,
  PING_FRAME,
  PONG_FRAME,
  type PresenceView,
  parseFrame,
  type SessionEvent,
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
import { EventLog, type TimerName } from './event-log';
import {
  redactForViewers,
  type SessionSubscribers,
  sessionSubscribers,
} from './session-subscribers';
import { ShardRouter } from './shards';
import {
  closeQuietly,
  frameText,
  NAME_HEADER,
  PRINCIPAL_HEADER,
  PROJECT_HEADER,
  ROLE_HEADER,
  refuseFrame,
  SESSION_HEADER,
  type SubscriberAttachment,
  sendError,
  socketsOf,
  subscriberAttachment,
  tooManySockets,
  VIEWER_CANNOT_WRITE,
} from './subscriber';
import { type SessionHealth, WriteThrough } from './write-through';

/** Events between stored state snapshots, so loading never re-reads the whole log. */
const SNAPSHOT_EVERY = 1000;
/** Delay before the D1 write-through runs after a commit: keeps D1 off the hot path. */
const WRITE_THROUGH_DELAY_MS = 200;

export {
  NAME_HEADER,
  PRINCIPAL_HEADER,
  PROJECT_HEADER,
  ROLE_HEADER,
  SESSION_HEADER,
} from './subscriber';

type Attachment =
  | SubscriberAttachment
  | {
      role: 'ingest';
      principal: string;
      access: SocketPrincipal;
      buildId?: string;
      epoch?: number;
      badFrames: number;
    };

export type { SessionHealth } from './write-through';

/**
 * One generation session (DESIGN §4): the ordered event log in DO SQLite, the live subscriber and
 * runner sockets (WebSocket Hibernation API), and the write-through of projections to D1.
 */
export class SessionObject extends DurableObject<Env> {
  private readonly log: EventLog;
  private state: SessionState | null = null;
  /** Subscriber sockets: catch-up, fan-out, refusal of bad frames, presence. */
  private readonly subscribers: SessionSubscribers;
  /** When the platform alarm is set for; the earliest of the `timers` table. */
  private alarmAt: number | null = null;
  private readonly buckets = new WeakMap<WebSocket, TokenBucket>();
  private readonly timing: ReturnType<typeof timingFrom>;
  /** D1, a field so tests can put a failing binding in its place. */
  private d1: D1Database;
  private readonly writeThrough: WriteThrough;
  private readonly shards: ShardRouter;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Pings are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.log = new EventLog(ctx.storage.sql);
    this.d1 = env.DB;
    this.timing = timingFrom(env);
    this.writeThrough = new WriteThrough(this.log, env, () => this.d1);
    this.shards = new ShardRouter(
      this.log,
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
    void ctx.blockConcurrencyWhile(async () => {
      this.log.migrate();
      this.alarmAt = await ctx.storage.getAlarm();
      this.state = this.load();
    });
  }

  // --- RPC (called by the worker after it has authorized the caller) ---

  /** Creates the session's state on first use; later calls are no-ops. */
  async init(sessionId: string, projectId: string): Promise<void> {
    if (this.state) return;
    this.log.setMeta('sessionId', sessionId);
    this.log.setMeta('projectId', projectId);
    this.state = createSessionState(sessionId, projectId);
  }

  /** Leases a new build to `holder` (`user:<id>` or `runner:<id>`); returns its id and expiry. */
  async leaseBuild(holder: string, agent: string, model: string) {
    this.requireState();
    const buildId = crypto.randomUUID();
    const leaseExpiresAt = Date.now() + this.timing.leaseMs;
    this.log.putBuild({
      buildId,
      holder,
      agent,
      model,
      epoch: -1,
      ackedProducerSeq: 0,
      leaseExpiresAt,
      status: 'leased',
    });
    this.setTimer('lease', leaseExpiresAt);
    return { buildId, leaseExpiresAt };
  }

  /**
   * Cron sweep (DESIGN §4): a session whose turn has run with no new event for `STUCK_SESSION_MS`
   * gets that turn finished (`failed: stuck`, or `completed` when every todo is done). Returns
   * whether it finished one.
   */
  async sweepIfStuck(now = Date.now()): Promise<boolean> {
    const state = this.state;
    if (!state || now - state.updatedAt < this.timing.stuckMs) return false;
    const finish = finishOrphanedTurn(state, undefined, 'stuck', now);
    if (!finish) return false;
    this.commit([{ body: finish }], () => {});
    return true;
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
    const state = this.requireState();
    const existing = state.messages.find((m) => m.clientMessageId === clientMessageId);
    if (existing) return { messageId: existing.messageId, seq: existing.seq, created: false };
    const messageId = `msg_${clientMessageId}`;
    const [event] = this.commit(
      [{ body: { type: 'user-message', messageId, clientMessageId, text, authorId } }],
      () => {},
    );
    this.commandRunners({ kind: 'user-message', messageId, text });
    return { messageId, seq: event!.seq, created: true };
  }

  /** For viewer shards: the state at head, for a snapshot frame. */
  async viewerSnapshot(): Promise<{ seq: number; state: SessionState }> {
    const state = this.requireState();
    return { seq: state.headSeq, state };
  }

  /** For viewer shards: a subscriber's interrupt; returns why not, if it could not. */
  async interruptTurn(): Promise<string | undefined> {
    return this.interruptRunningTurn();
  }

  /**
   * For viewer shards: who watches through a shard, and how many of its sockets closed. The
   * merged view reaches every shard through `deliverPresence`; it is also returned.
   */
  async shardReport(index: number, closed: number, viewers: Viewer[]): Promise<PresenceView> {
    this.shards.report(index, closed, viewers);
    return this.subscribers.reportViewers(`shard:${index}`, viewers);
  }

  /**
   * For the runner hub: the newest checkpoint (`{turnId, agent, state}`) from the log, handed to
   * the next turn's `build` so a follow-up continues the conversation on any runner. Read from the
   * log rather than D1's write-through, which may lag the turn's end.
   */
  async lastCheckpoint(): Promise<{ turnId: string; agent: string; state: string } | null> {
    const event = this.log.lastCheckpoint();
    // As JSON text: RPC would flatten an opaque `unknown` state to never.
    return event
      ? { turnId: event.turnId, agent: event.agent, state: JSON.stringify(event.state ?? null) }
      : null;
  }

  async getState(): Promise<SessionState | null> {
    return this.state;
  }

  /**
   * Appends a `session-status` event (the hub's `queued` while no runner is free, `failed` when no
   * runner can take the turn); no-op when the session already has that status and reason.
   * Returns the status now.
   */
  async appendStatus(status: 'queued' | 'failed', reason: string): Promise<string> {
    const state = this.requireState();
    if (state.status === status && state.statusReason === reason) return status;
    this.commit([{ body: { type: 'session-status', status, reason } }], () => {});
    return status;
  }

  /** Appends a `session-renamed` (a person renamed the session); no-op for the same title. */
  async rename(title: string): Promise<void> {
    const state = this.requireState();
    if (state.title === title) return;
    this.commit([{ body: { type: 'session-renamed', title } }], () => {});
  }

  /** `POST …/interrupt`: like the socket's `interrupt`; false when no turn is running. */
  async requestInterrupt(): Promise<boolean> {
    const turn = this.requireState().turns.findLast((t) => t.status === 'running');
    if (!turn) return false;
    this.commandRunners({ kind: 'interrupt' });
    this.log.setMeta('interruptTurnId', turn.turnId);
    this.setTimer('interrupt', Date.now() + this.timing.interruptGraceMs);
    return true;
  }

  /**
   * A change of access (DESIGN §8): closes or re-roles the sockets it concerns, here and on the
   * viewer shards. Returns how many sockets of the revoked person remain (0: forget this object).
   */
  async revoke(change: Revocation): Promise<number> {
    const projectId = this.log.getMeta('projectId') ?? undefined;
    const { closed, remaining } = applyRevocation(
      this.ctx.getWebSockets(),
      (a) => ((a as Attachment).role === 'ingest' ? 'ingest' : 'subscriber'),
      projectId,
      change,
    );
    for (const ws of closed) this.onSocketGone(ws);
    return remaining + (await this.shards.revoke(change));
  }

  /** Closes every socket and deletes the log (the session was deleted). */
  async destroy(): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, 1000, 'session deleted');
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.state = null;
  }

  /** Up to `limit` events after `after`, with checkpoint state removed. */
  async getEvents(after: number, limit: number): Promise<EventsPage> {
    const state = this.requireState();
    const events = this.log.read(after, limit).map(redactForViewers);
    const last = events[events.length - 1];
    const nextAfter = last && last.seq < state.headSeq ? last.seq : null;
    return { events, headSeq: state.headSeq, nextAfter };
  }

  async getHealth(): Promise<SessionHealth> {
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
    const attachment = ws.deserializeAttachment() as Attachment;
    if (attachment.role === 'subscriber') {
      const frame = this.subscribers.read(ws, message, clientFrame);
      if (frame) await this.onClientFrame(ws, attachment, frame);
      return;
    }
    const text = frameText(ws, attachment, message);
    if (text === undefined) return;
    const parsed = parseFrame(ingestFrame, text);
    if (!parsed.ok) {
      refuseFrame(ws, attachment, 'bad-frame', parsed.message);
      return;
    }
    if (parsed.frame.type === 'hello' && !(await this.mayWrite(ws, attachment))) return;
    this.onIngestFrame(ws, attachment, parsed.frame);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // The peer closed; complete the closing handshake (1005/1006 cannot be sent back).
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, 'closed');
    this.onSocketGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    closeQuietly(ws, 1011, 'socket error');
    this.onSocketGone(ws);
  }

  // --- alarm: every timer (D1 write-through, leases, interrupt deadline) ---

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    for (const timer of this.log.takeDueTimers(now)) {
      switch (timer) {
        case 'write-through': {
          const retryIn = this.state ? await this.writeThrough.run(this.state) : undefined;
          if (retryIn !== undefined) this.setTimer('write-through', Date.now() + retryIn);
          break;
        }
        case 'lease':
          this.checkLeases(now);
          break;
        case 'interrupt':
          this.enforceInterrupt(now);
          break;
        default: {
          const unknown: never = timer;
          console.error(`unknown timer ${String(unknown)}`);
        }
      }
    }
    await this.syncAlarm();
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

  /** The ingest socket's events-per-second bucket (in memory; full again after hibernation). */
  private ingestBucket(ws: WebSocket): TokenBucket {
    let bucket = this.buckets.get(ws);
    if (!bucket) {
      bucket = new TokenBucket(
        MAX_INGEST_EVENTS_PER_SECOND,
        MAX_INGEST_EVENTS_PER_SECOND * 2,
        Date.now(),
      );
      this.buckets.set(ws, bucket);
    }
    return bucket;
  }

  // --- runners ---

  private onIngestFrame(
    ws: WebSocket,
    attachment: Extract<Attachment, { role: 'ingest' }>,
    frame: IngestFrame,
  ): void {
    switch (frame.type) {
      case 'ping':
        this.send(ws, { type: 'pong' });
        return;
      case 'hello':
        this.onIngestHello(ws, attachment, frame.buildId, frame.producerEpoch);
        return;
      case 'events': {
        const { buildId, epoch } = attachment;
        if (buildId === undefined || epoch === undefined) {
          refuseFrame(ws, attachment, 'bad-frame', 'send hello before events');
          return;
        }
        const build = this.log.getBuild(buildId);
        if (!build || build.epoch !== epoch) {
          this.fatal(ws, 'stale-epoch', 'a newer producer took over this build');
          return;
        }
        if (build.status !== 'leased' && build.status !== 'expired') {
          this.fatal(ws, 'no-lease', `build ${buildId} is ${build.status}`);
          return;
        }
        if (!this.ingestBucket(ws).take(frame.events.length, Date.now())) {
          sendError(
            ws,
            'rate-limited',
            `at most ${MAX_INGEST_EVENTS_PER_SECOND} events per second; resend after a pause`,
            false,
            build.ackedProducerSeq + 1,
          );
          return;
        }
        const admission = admitFrame(build.ackedProducerSeq, frame.firstProducerSeq, frame.events);
        switch (admission.kind) {
          case 'gap':
            sendError(
              ws,
              'producer-gap',
              `expected producer seq ${admission.expectedProducerSeq}, got ${frame.firstProducerSeq}`,
              false,
              admission.expectedProducerSeq,
            );
            return;
          case 'duplicate':
            this.send(ws, { type: 'ack', producerSeq: admission.ackedProducerSeq });
            return;
          case 'append': {
            const refusal = checkEvents(
              admission.events.map((e) => e.body),
              buildId,
              build.holder,
            );
            if (refusal) {
              refuseFrame(ws, attachment, refusal.code, refusal.message);
              return;
            }
            const lastProducerSeq = admission.events[admission.events.length - 1]!.producerSeq;
            const leaseExpiresAt = Date.now() + this.timing.leaseMs;
            this.commit(
              dropLateTurnEnds(this.requireState(), coalesceDeltas(admission.events)).map((e) => ({
                ...e,
                buildId,
              })),
              () =>
                this.log.putBuild({
                  ...build,
                  status: 'leased',
                  ackedProducerSeq: lastProducerSeq,
                  leaseExpiresAt,
                }),
            );
            this.setTimer('lease', leaseExpiresAt);
            this.send(ws, { type: 'ack', producerSeq: lastProducerSeq });
            return;
          }
          default: {
            const unknown: never = admission;
            throw new Error(`unhandled admission ${JSON.stringify(unknown)}`);
          }
        }
      }
      default: {
        const unknown: never = frame;
        throw new Error(`unhandled ingest frame ${JSON.stringify(unknown)}`);
      }
    }
  }

  private onIngestHello(
    ws: WebSocket,
    attachment: Extract<Attachment, { role: 'ingest' }>,
    buildId: string,
    epoch: number,
  ): void {
    const build = this.log.getBuild(buildId);
    // A build whose lease expired may come back within its grace period and continue.
    const open = build?.status === 'leased' || build?.status === 'expired';
    if (!build || build.holder !== attachment.principal || !open) {
      this.fatal(ws, 'no-lease', `build ${buildId} is not leased to you`);
      return;
    }
    if (epoch < build.epoch) {
      this.fatal(ws, 'stale-epoch', `producer epoch ${epoch} is older than ${build.epoch}`);
      return;
    }
    // The newest connection for a build wins: an older socket (a zombie, or a half-open
    // connection the producer already gave up on) is fenced off.
    for (const other of this.ctx.getWebSockets('ingest')) {
      if (other === ws) continue;
      const a = other.deserializeAttachment() as Attachment;
      if (a.role === 'ingest' && a.buildId === buildId) {
        this.fatal(other, 'stale-epoch', 'another producer connection took over this build');
      }
    }
    const leaseExpiresAt = Date.now() + this.timing.leaseMs;
    this.log.putBuild({ ...build, epoch, status: 'leased', leaseExpiresAt });
    this.setTimer('lease', leaseExpiresAt);
    ws.serializeAttachment({ ...attachment, buildId, epoch });
    this.send(ws, { type: 'ready', ackedProducerSeq: build.ackedProducerSeq });
  }

  private interrupt(ws: WebSocket): void {
    const refusal = this.interruptRunningTurn();
    if (refusal) sendError(ws, 'conflict', refusal, false);
  }

  /**
   * Asks the runner to stop; if the turn is still running after the grace period, ends it.
   * Returns why it could not, if it could not.
   */
  private interruptRunningTurn(): string | undefined {
    const turn = this.requireState().turns.findLast((t) => t.status === 'running');
    if (!turn) return 'no turn is running';
    this.commandRunners({ kind: 'interrupt' });
    this.log.setMeta('interruptTurnId', turn.turnId);
    this.setTimer('interrupt', Date.now() + this.timing.interruptGraceMs);
    return undefined;
  }

  private enforceInterrupt(now: number): void {
    const turnId = this.log.getMeta('interruptTurnId');
    this.log.deleteMeta('interruptTurnId');
    const state = this.requireState();
    const turn = state.turns.find((t) => t.turnId === turnId);
    if (turn?.status !== 'running') return;
    const finish = finishOrphanedTurn(state, turn.buildId, 'interrupted', now);
    if (finish) this.commit([{ body: finish }], () => {});
  }

  /** Applies lease expiry, renewal by auto-answered pings, and loss after the grace period. */
  private checkLeases(now: number): void {
    const builds = this.log.openBuilds();
    const lastPing = new Map<string, number>();
    for (const ws of this.ctx.getWebSockets('ingest')) {
      const a = ws.deserializeAttachment() as Attachment;
      const at = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime();
      if (a.role === 'ingest' && a.buildId && at) {
        lastPing.set(a.buildId, Math.max(at, lastPing.get(a.buildId) ?? 0));
      }
    }
    const { actions, nextCheckAt } = leaseActions(
      builds.map((b) => ({ ...b, lastPingAt: lastPing.get(b.buildId) })),
      now,
      this.timing.leaseMs,
      this.timing.graceMs,
    );
    for (const action of actions) {
      const build = builds.find((b) => b.buildId === action.buildId)!;
      switch (action.kind) {
        case 'renew':
          this.log.putBuild({ ...build, leaseExpiresAt: action.leaseExpiresAt });
          break;
        case 'expire':
          this.log.putBuild({ ...build, status: 'expired', leaseExpiresAt: action.graceUntil });
          break;
        case 'lose': {
          const finish = finishOrphanedTurn(this.requireState(), build.buildId, 'runner-lost', now);
          this.commit(finish ? [{ body: finish }] : [], () =>
            this.log.putBuild({ ...build, status: 'lost' }),
          );
          for (const ws of this.ctx.getWebSockets('ingest')) {
            const a = ws.deserializeAttachment() as Attachment;
            if (a.role === 'ingest' && a.buildId === build.buildId) {
              this.fatal(ws, 'no-lease', 'the lease on this build was lost');
            }
          }
          break;
        }
        default: {
          const unknown: never = action;
          throw new Error(`unhandled lease action ${JSON.stringify(unknown)}`);
        }
      }
    }
    if (nextCheckAt !== undefined) this.setTimer('lease', nextCheckAt);
  }

  private commandRunners(
    command: { kind: 'interrupt' } | { kind: 'user-message'; messageId: string; text: string },
  ): void {
    const frame = JSON.stringify({ type: 'command', command });
    for (const ws of this.ctx.getWebSockets('ingest')) sendQuietly(ws, frame);
  }

  // --- the log ---

  /**
   * Assigns seqs, stores the events and runs `alsoInTransaction` (producer state) in one
   * transaction, then applies them to the state, broadcasts them and schedules the D1
   * write-through.
   */
  private commit(
    events: readonly { body: EventBody; buildId?: string; producerSeq?: number }[],
    alsoInTransaction: () => void,
  ): SessionEvent[] {
    const state = this.requireState();
    const at = Date.now();
    if (events.length === 0) {
      this.ctx.storage.transactionSync(alsoInTransaction);
      return [];
    }
    const committed = this.ctx.storage.transactionSync(() => {
      const stored = this.log.append(
        events.map((e) => ({ body: e.body, at, buildId: e.buildId, producerSeq: e.producerSeq })),
        state.headSeq + 1,
      );
      alsoInTransaction();
      return stored;
    });
    this.state = applyEvents(state, committed);
    if (this.state.headSeq - this.log.latestSnapshotSeq() >= SNAPSHOT_EVERY) {
      this.log.putSnapshot(this.state);
    }
    this.subscribers.publish(committed);
    this.scheduleWriteThrough();
    return committed;
  }

  private load(): SessionState | null {
    const sessionId = this.log.getMeta('sessionId');
    const projectId = this.log.getMeta('projectId');
    if (!sessionId || !projectId) return null;
    let state = this.log.latestSnapshot() ?? createSessionState(sessionId, projectId);
    for (;;) {
      const events = this.log.read(state.headSeq, 5000);
      if (events.length === 0) break;
      state = applyEvents(state, events);
    }
    if (this.writeThrough.behind(state.headSeq)) this.scheduleWriteThrough();
    return state;
  }

  private requireState(): SessionState {
    if (!this.state) throw new Error('session is not initialized');
    return this.state;
  }

  // --- D1 write-through ---

  private scheduleWriteThrough(): void {
    if (this.log.timerDueAt('write-through') !== undefined) return;
    this.setTimer('write-through', Date.now() + WRITE_THROUGH_DELAY_MS);
  }

  // --- timers: one alarm, due times in the `timers` table ---

  /** Sets (or moves) a timer; the alarm is moved earlier if needed. */
  private setTimer(name: TimerName, dueAt: number): void {
    this.log.setTimer(name, dueAt);
    if (this.alarmAt === null || dueAt < this.alarmAt) {
      this.alarmAt = dueAt;
      void this.ctx.storage.setAlarm(dueAt);
    }
  }

  /** Points the alarm at the earliest timer left (after an alarm ran). */
  private async syncAlarm(): Promise<void> {
    const next = this.log.nextTimerAt();
    if (next === undefined) return;
    if (this.alarmAt === null || next < this.alarmAt) {
      this.alarmAt = next;
      await this.ctx.storage.setAlarm(next);
    }
  }

  // --- helpers ---

  private send(ws: WebSocket, frame: object): void {
    sendQuietly(ws, JSON.stringify(frame));
  }

  /** Re-checks a person's current role before a write frame (send, interrupt, ingest hello). */
  private mayWrite(ws: WebSocket, attachment: Attachment): Promise<boolean> {
    const projectId = this.requireState().projectId;
    return recheckWrite(this.env.DB, projectId, ws, attachment, (message) =>
      sendError(ws, 'forbidden', message, attachment.role === 'ingest'),
    );
  }

  private fatal(ws: WebSocket, code: ErrorCode, message: string): void {
    sendError(ws, code, message, true);
    closeQuietly(ws, 1008, code);
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
