import { DurableObject } from 'cloudflare:workers';
import { answerClose, closeQuietly } from '@kiln/channel';
import {
  DISPATCH_SCAN_LIMIT,
  type HubServerFrame,
  type HubTurnStatus,
  MAX_BAD_FRAMES,
  MAX_QUEUED_TURNS_PER_ACCOUNT,
  MAX_QUEUED_TURNS_PER_PROJECT,
  newTurnId,
  PING_FRAME,
  PONG_FRAME,
  parseFrame,
  type RunnerHubFrame,
  runnerHubFrame,
} from '@kiln/protocol';
import type { Env } from '../env';
import {
  buildFrame,
  CoalescingRunner,
  noRunnerFor,
  pickRunner,
  queueRefusal,
  type RunnerSlot,
} from './dispatch';
import { appendQueued, publishFinished, publishStatus, recordBuild } from './hub-records';
import {
  attachmentOf,
  type LiveRunner,
  liveRunners,
  RUNNER_ID_HEADER,
  RUNNER_NAME_HEADER,
  type RunnerAttachment,
  RunnerRecords,
  runnerSlots,
  sendFrame as send,
} from './hub-sockets';
import { TurnQueue, type TurnRequest, type TurnRow } from './turn-queue';

export { hubFor, SHARED_HUB } from './hub-routing';
export { RUNNER_ID_HEADER, RUNNER_NAME_HEADER } from './hub-sockets';
export type { TurnRequest } from './turn-queue';

/** A build offered to a runner and not accepted within this long goes back to the queue. */
const OFFER_TIMEOUT_MS = 10_000;
/** A running build whose runner has been gone this long stops holding its session's queue. */
const RUNNER_LOST_MS = 60_000;

/**
 * One account's runners (DESIGN §1): the registry of connected runners (their control sockets,
 * hibernatable), the queue of turns in DO SQLite, and dispatch. A session runs one turn at a time;
 * its later messages wait in order. A build is leased by its SessionDO to `runner:<id>` before the
 * `build` command goes out, so only that runner can ingest into it.
 */
export class RunnerHub extends DurableObject<Env> {
  private readonly pumps = new CoalescingRunner();
  private readonly queue: TurnQueue;
  private readonly records: RunnerRecords;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    this.queue = new TurnQueue(ctx.storage.sql);
    this.records = new RunnerRecords(ctx.storage.sql);
    void ctx.blockConcurrencyWhile(async () => {
      this.queue.migrate();
      this.records.migrate();
    });
  }

  // --- RPC ---

  /**
   * Why a new turn may not queue (its project or account has `MAX_QUEUED_TURNS_PER_*` open
   * turns), or undefined. A message the session already has is always admitted (a retry).
   */
  async admit(turn: Pick<TurnRequest, 'sessionId' | 'messageId' | 'projectId' | 'accountId'>) {
    if (this.queue.byMessage(turn.sessionId, turn.messageId)) return undefined;
    return queueRefusal(this.queue.openCounts(turn.projectId, turn.accountId), {
      project: MAX_QUEUED_TURNS_PER_PROJECT,
      account: MAX_QUEUED_TURNS_PER_ACCOUNT,
    });
  }

  /**
   * Queues a turn, idempotent per session on `messageId`, and dispatches what it can. A turn that
   * no connected runner could ever take (none offers its agent) or that is past the queue caps
   * fails at once: the session gets `session-status: failed` with the reason. Returns the turn's
   * status afterwards.
   */
  async enqueue(turn: TurnRequest): Promise<HubTurnStatus> {
    const existing = this.queue.byMessage(turn.sessionId, turn.messageId);
    if (existing) return existing.status;
    const refusal = (await this.admit(turn)) ?? noRunnerFor(this.slots(), turn.agent);
    if (refusal) {
      this.queue.insert(turn, 'failed');
      await this.env.SESSIONS.getByName(turn.sessionId).appendStatus('failed', refusal);
      this.ctx.waitUntil(publishStatus(this.env, turn.projectId, turn.sessionId, 'failed'));
      return 'failed';
    }
    this.queue.insert(turn, 'queued');
    await this.pump();
    const status = this.queue.byMessage(turn.sessionId, turn.messageId)?.status ?? 'done';
    if (status === 'queued') await this.markQueued(turn.projectId, turn.sessionId, turn.agent);
    return status;
  }

  /** Drops a session's queued turns and cancels its offered or running build (session deleted). */
  async cancelSession(sessionId: string): Promise<void> {
    this.cancel(this.queue.open({ sessionId }));
    await this.pump();
  }

  /**
   * Drops every open turn of a project (project deleted) in one pass over the project's index:
   * bounded by `MAX_QUEUED_TURNS_PER_PROJECT`, however many sessions it had.
   */
  async cancelProject(projectId: string): Promise<void> {
    this.cancel(this.queue.open({ projectId }));
    await this.pump();
  }

  /** Open (queued, offered, running) turns of a project on this hub (ownership transfer waits for 0). */
  async openTurns(projectId: string): Promise<number> {
    return this.queue.open({ projectId }).length;
  }

  /** Connected runners and what they reported, plus when each runner was last seen. */
  async listRunners(): Promise<{ live: LiveRunner[]; lastSeen: Record<string, number> }> {
    const live = liveRunners(this.ctx.getWebSockets());
    return { live, lastSeen: this.records.lastSeen() };
  }

  /** Disconnects a runner whose token was revoked (code 1008, reason `token revoked`). */
  async disconnect(runnerId: string): Promise<void> {
    for (const ws of this.ctx.getWebSockets(runnerId)) closeQuietly(ws, 1008, 'token revoked');
    this.runnerGone(runnerId);
    await this.pump();
  }

  /**
   * SQLite rows the queue has read since the hub started: the work dispatch does, which tests
   * compare before and after a pass (rather than wall-clock time).
   */
  async dispatchWork(): Promise<number> {
    return this.queue.rowsRead;
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('expected a WebSocket upgrade', { status: 426 });
    }
    const runnerId = request.headers.get(RUNNER_ID_HEADER);
    if (!runnerId) return new Response('missing routing headers', { status: 400 });
    // One control socket per runner token: the newest wins.
    for (const old of this.ctx.getWebSockets(runnerId)) {
      closeQuietly(old, 1000, 'replaced by a newer connection');
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [runnerId]);
    const attachment: RunnerAttachment = {
      runnerId,
      name: request.headers.get(RUNNER_NAME_HEADER) ?? runnerId,
      activeBuilds: [],
      lastSeenAt: Date.now(),
      badFrames: 0,
    };
    server.serializeAttachment(attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  // --- WebSocket Hibernation API ---

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = attachmentOf(ws);
    const parsed =
      typeof message === 'string'
        ? parseFrame(runnerHubFrame, message)
        : { ok: false as const, message: 'frames must be JSON text' };
    if (!parsed.ok) {
      const badFrames = attachment.badFrames + 1;
      const fatal = badFrames > MAX_BAD_FRAMES;
      send(ws, { type: 'error', code: 'bad-frame', message: parsed.message, fatal });
      if (fatal) closeQuietly(ws, 1008, 'too many bad frames');
      else ws.serializeAttachment({ ...attachment, badFrames });
      return;
    }
    const now = Date.now();
    attachment.lastSeenAt = now;
    this.records.seen(attachment.runnerId, now);
    await this.onFrame(ws, attachment, parsed.frame);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    answerClose(ws, code);
    await this.onSocketGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    answerClose(ws, 'error');
    await this.onSocketGone(ws);
  }

  // --- alarm: offers not accepted in time, runners that never came back ---

  override async alarm(): Promise<void> {
    const now = Date.now();
    for (const turn of this.queue.withStatus('offered', {
      updatedBefore: now - OFFER_TIMEOUT_MS,
    })) {
      if (turn.runner_id && turn.build_id)
        this.sendToRunner(turn.runner_id, { type: 'cancel', buildId: turn.build_id });
      this.requeue(turn);
    }
    for (const turn of this.queue.withStatus('running', { updatedBefore: now - RUNNER_LOST_MS })) {
      if (turn.runner_id && !this.connected(turn.runner_id)) this.finish(turn);
    }
    await this.pump();
  }

  // --- runner frames ---

  private async onFrame(ws: WebSocket, attachment: RunnerAttachment, frame: RunnerHubFrame) {
    switch (frame.type) {
      case 'hello':
        attachment.hello = {
          instance: frame.runnerId,
          version: frame.version,
          agents: frame.agents,
          capacity: frame.capacity,
        };
        ws.serializeAttachment(attachment);
        await this.pump();
        return;
      case 'heartbeat': {
        attachment.activeBuilds = frame.activeBuilds;
        ws.serializeAttachment(attachment);
        const active = new Set(frame.activeBuilds);
        // A running build the runner no longer lists has finished (the runner flushes its events
        // before it stops listing the build). Offered ones are not judged: the runner lists a
        // build before it accepts it.
        for (const turn of this.queue.withStatus('running', { runnerId: attachment.runnerId })) {
          if (turn.build_id && !active.has(turn.build_id)) this.finish(turn);
          else this.queue.set(turn.seq, {}); // still alive: refresh updated_at
        }
        await this.pump();
        return;
      }
      case 'build-accepted': {
        const turn = this.queue.byBuild(frame.buildId);
        if (turn?.status !== 'offered' || turn.runner_id !== attachment.runnerId) {
          send(ws, { type: 'cancel', buildId: frame.buildId });
          return;
        }
        this.queue.set(turn.seq, { status: 'running' });
        this.records.setAffinity(turn.project_id, attachment.runnerId);
        this.ctx.waitUntil(recordBuild(this.env, turn.build_id!, 'running'));
        this.ctx.waitUntil(publishStatus(this.env, turn.project_id, turn.session_id, 'active'));
        return;
      }
      case 'build-rejected': {
        const turn = this.queue.byBuild(frame.buildId);
        if (turn?.status !== 'offered' || turn.runner_id !== attachment.runnerId) return;
        const rejectedBy = [...(JSON.parse(turn.rejected_by) as string[]), attachment.runnerId];
        this.queue.set(turn.seq, { rejected_by: JSON.stringify(rejectedBy) });
        this.requeue({ ...turn, rejected_by: JSON.stringify(rejectedBy) });
        await this.pump();
        return;
      }
      case 'ping':
        send(ws, { type: 'pong' });
        return;
      default: {
        const unknown: never = frame;
        throw new Error(`unhandled hub frame ${JSON.stringify(unknown)}`);
      }
    }
  }

  private async onSocketGone(ws: WebSocket): Promise<void> {
    const { runnerId } = attachmentOf(ws);
    // A newer socket of the same runner may already be open (reconnect): nothing is lost then.
    if (this.connected(runnerId, ws)) return;
    this.runnerGone(runnerId);
    await this.pump();
  }

  /** Builds offered to a runner that left before accepting go to another one. */
  private runnerGone(runnerId: string): void {
    for (const turn of this.queue.withStatus('offered', { runnerId })) this.requeue(turn);
    // Running builds keep their slot: the runner may come back and resume them (lease grace);
    // the alarm frees them after RUNNER_LOST_MS.
    this.scheduleAlarm(RUNNER_LOST_MS);
  }

  // --- dispatch ---

  /**
   * Offers every queued turn it can, oldest first: one turn per session at a time, each to a
   * runner with a free slot and the agent. Reads only the queue of agents some runner with a free
   * slot offers, at most `DISPATCH_SCAN_LIMIT` turns per agent and pass, so turns nobody can take
   * cost nothing.
   */
  private pump(): Promise<void> {
    return this.pumps.run(() => this.pumpOnce());
  }

  private async pumpOnce(): Promise<void> {
    const slots = this.slots();
    const agents = new Set(slots.filter((r) => r.load < r.capacity).flatMap((r) => r.agents));
    for (const agent of agents) {
      for (const turn of this.queue.startable(agent, DISPATCH_SCAN_LIMIT)) {
        const runnerId = pickRunner(
          slots,
          turn.agent,
          this.records.affinityOf(turn.project_id),
          new Set(JSON.parse(turn.rejected_by) as string[]),
        );
        if (!runnerId) continue;
        // Reserve the slot before awaiting the lease, so a concurrent pump cannot overfill it.
        this.queue.set(turn.seq, { status: 'offered', runner_id: runnerId });
        const slot = slots.find((r) => r.runnerId === runnerId)!;
        slot.load++;
        await this.offer(turn, runnerId);
        if (!slots.some((r) => r.load < r.capacity && r.agents.includes(agent))) break;
      }
    }
  }

  /** Leases the build to the runner and sends it the `build` command. */
  private async offer(turn: TurnRow, runnerId: string): Promise<void> {
    const session = this.env.SESSIONS.getByName(turn.session_id);
    const { buildId } = await session.leaseBuild(`runner:${runnerId}`, turn.agent, turn.model);
    const turnId = newTurnId();
    this.queue.set(turn.seq, { build_id: buildId, turn_id: turnId });
    await recordBuild(this.env, buildId, 'leased', {
      turn,
      runnerId,
      expiresAt: Date.now() + OFFER_TIMEOUT_MS,
    });
    const checkpoint = await session.lastCheckpoint();
    const current = this.queue.byBuild(buildId);
    if (current?.status !== 'offered') return; // the runner left meanwhile: re-queued
    this.sendToRunner(runnerId, buildFrame(turn, buildId, turnId, checkpoint));
    this.scheduleAlarm(OFFER_TIMEOUT_MS);
  }

  /** Tells the session and the project's list, once, that the turn waits for a runner. */
  private async markQueued(projectId: string, sessionId: string, agent: string) {
    await appendQueued(this.env, sessionId, agent);
    this.ctx.waitUntil(publishStatus(this.env, projectId, sessionId, 'queued'));
  }

  private slots(): RunnerSlot[] {
    return runnerSlots(this.ctx.getWebSockets(), this.queue.loadByRunner());
  }

  private cancel(turns: TurnRow[]): void {
    for (const turn of turns) {
      if (turn.runner_id && turn.build_id) {
        this.sendToRunner(turn.runner_id, { type: 'cancel', buildId: turn.build_id });
      }
      this.queue.set(turn.seq, { status: 'done' });
    }
  }

  private requeue(turn: TurnRow): void {
    this.queue.set(turn.seq, { status: 'queued', runner_id: null, build_id: null, turn_id: null });
    if (turn.build_id) this.ctx.waitUntil(recordBuild(this.env, turn.build_id, 'abandoned'));
    this.ctx.waitUntil(this.markQueued(turn.project_id, turn.session_id, turn.agent));
  }

  private finish(turn: TurnRow): void {
    this.queue.set(turn.seq, { status: 'done' });
    if (turn.build_id) this.ctx.waitUntil(recordBuild(this.env, turn.build_id, 'finished'));
    this.ctx.waitUntil(publishFinished(this.env, turn));
  }

  // --- helpers ---

  private connected(runnerId: string, except?: WebSocket): boolean {
    return this.ctx.getWebSockets(runnerId).some((ws) => ws !== except);
  }

  private sendToRunner(runnerId: string, frame: HubServerFrame): void {
    for (const ws of this.ctx.getWebSockets(runnerId)) send(ws, frame);
  }

  private scheduleAlarm(inMs: number): void {
    const at = Date.now() + inMs + 50;
    this.ctx.waitUntil(
      this.ctx.storage.getAlarm().then((current) => {
        if (current === null || current > at) return this.ctx.storage.setAlarm(at);
      }),
    );
  }
}
