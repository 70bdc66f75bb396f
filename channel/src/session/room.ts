import {
  createSessionState,
  type ErrorCode,
  type IngestFrame,
  type IngestServerFrame,
  ingestFrame,
  MAX_INGEST_EVENTS_PER_SECOND,
  type RunnerCommand,
  type SessionEvent,
  type SessionState,
} from '@kiln/protocol';
import { readFrame, strike } from '../intake';
import { TokenBucket } from '../rate-limit';
import { admitFrame, checkEvents, dropLateTurnEnds } from './admission';
import { coalesceDeltas } from './coalesce';
import { ackFrame, commandFrame, errorFrame, pongFrame, readyFrame } from './ingest-frames';
import { finishOrphanedTurn, leaseActions } from './lifecycle';
import type { IngestAttachment, RoomEffect, SessionRoomOptions, Step } from './room-types';
import type { BuildRow } from './session-store';
import { SessionTimeline } from './timeline';

/**
 * One session's producer side (DESIGN §4), without a runtime: ingest admission (hello, events,
 * ping), producer fencing by epoch and by newest connection, the lease lifecycle, interrupts,
 * commits (log + reducer state + snapshots) and timer ticks. The SessionDO hands it every ingest
 * frame, RPC and alarm and applies the effects it returns (tldraw's `TLSocketRoom` is the model);
 * the runner's FakeKilnServer runs the same room over a `MemorySessionStore`.
 */
export class SessionRoom<S extends object, A extends IngestAttachment> {
  private readonly timeline: SessionTimeline<S>;
  private readonly buckets = new WeakMap<S, TokenBucket>();
  private out: RoomEffect<S>[] = [];
  private readonly clock: () => number;

  constructor(private readonly options: SessionRoomOptions<S, A>) {
    this.clock = options.clock ?? Date.now;
    this.timeline = new SessionTimeline<S>(
      options.store,
      this.clock,
      (effect) => this.out.push(effect),
      options.snapshotEvery,
      options.writeThroughDelayMs,
    );
  }

  /** The state at head; null before `init` (or after the session was deleted). */
  get state(): SessionState | null {
    return this.timeline.state;
  }

  requireState(): SessionState {
    return this.timeline.require();
  }

  /**
   * Loads the state (newest snapshot, then the log after it) when the object starts. `alarmAt` is
   * the platform alarm as stored; `d1Behind` says whether events wait for the D1 write-through.
   */
  start(alarmAt: number | null, d1Behind: (headSeq: number) => boolean): Step<S> {
    return this.step(() => {
      this.timeline.load(alarmAt, d1Behind);
      return undefined;
    });
  }

  /** Creates the session's state on first use; later calls are no-ops. */
  init(sessionId: string, projectId: string): void {
    if (this.timeline.state) return;
    this.options.store.setMeta('sessionId', sessionId);
    this.options.store.setMeta('projectId', projectId);
    this.timeline.state = createSessionState(sessionId, projectId);
  }

  /** Forgets the state (the object deleted its storage). */
  reset(): void {
    this.timeline.reset();
  }

  /** Leases a new build to `holder` (`user:<id>` or `runner:<id>`); returns its id and expiry. */
  leaseBuild(
    holder: string,
    agent: string,
    model: string,
  ): Step<S, { buildId: string; leaseExpiresAt: number }> {
    return this.step(() => {
      this.requireState();
      const buildId = (this.options.newBuildId ?? (() => crypto.randomUUID()))();
      return this.putNewBuild(buildId, holder, agent, model);
    });
  }

  /**
   * Leases the session's one import build (`POST …/builds {import: true}`, id
   * `<sessionId>:import`) to `holder`, again whatever its lease status, so a re-import continues
   * its producer seqs. Returns the producer seq already acknowledged (0 for a new build), or null
   * when another holder created it.
   */
  leaseImportBuild(
    holder: string,
    agent: string,
    model: string,
  ): Step<S, { buildId: string; leaseExpiresAt: number; ackedProducerSeq: number } | null> {
    return this.step(() => {
      const buildId = importBuildId(this.requireState().sessionId);
      const existing = this.options.store.getBuild(buildId);
      if (!existing)
        return { ...this.putNewBuild(buildId, holder, agent, model), ackedProducerSeq: 0 };
      if (existing.holder !== holder) return null;
      const leaseExpiresAt = this.clock() + this.options.timing.leaseMs;
      this.options.store.putBuild({ ...existing, status: 'leased', leaseExpiresAt });
      this.timeline.setTimer('lease', leaseExpiresAt);
      return { buildId, leaseExpiresAt, ackedProducerSeq: existing.ackedProducerSeq };
    });
  }

  /**
   * Appends a `session-status` (the hub's `queued` while no runner is free, `failed` when none
   * can take the turn); nothing when the session already has that status and reason. Returns
   * the status now.
   */
  appendStatus(status: 'queued' | 'failed', reason: string): Step<S, string> {
    return this.step(() => {
      const state = this.requireState();
      if (state.status === status && state.statusReason === reason) return status;
      this.timeline.commit([{ body: { type: 'session-status', status, reason } }]);
      return status;
    });
  }

  /** Appends a `session-renamed` (a person renamed the session); nothing for the same title. */
  rename(title: string): Step<S> {
    return this.step(() => {
      if (this.requireState().title !== title) {
        this.timeline.commit([{ body: { type: 'session-renamed', title } }]);
      }
      return undefined;
    });
  }

  /**
   * Appends a person's prompt as a `user-message`, idempotent on `clientMessageId` (a retry
   * returns the stored message, `created: false`), and tells every producer about it.
   */
  appendUserMessage(
    clientMessageId: string,
    text: string,
    authorId: string,
  ): Step<S, { messageId: string; seq: number; created: boolean }> {
    return this.step(() => {
      const state = this.requireState();
      const existing = state.messages.find((m) => m.clientMessageId === clientMessageId);
      if (existing) return { messageId: existing.messageId, seq: existing.seq, created: false };
      const messageId = `msg_${clientMessageId}`;
      const [event] = this.timeline.commit([
        { body: { type: 'user-message', messageId, clientMessageId, text, authorId } },
      ]);
      this.commandProducers({ kind: 'user-message', messageId, text });
      return { messageId, seq: event!.seq, created: true };
    });
  }

  /**
   * Asks the producers to stop the running turn; if it still runs after the interrupt grace
   * period, the session ends it. Returns why it could not, if it could not.
   */
  interrupt(): Step<S, string | undefined> {
    return this.step(() => {
      const turn = this.requireState().turns.findLast((t) => t.status === 'running');
      if (!turn) return 'no turn is running';
      this.commandProducers({ kind: 'interrupt' });
      this.options.store.setMeta('interruptTurnId', turn.turnId);
      this.timeline.setTimer('interrupt', this.clock() + this.options.timing.interruptGraceMs);
      return undefined;
    });
  }

  /** Finishes a turn that ran `stuckMs` with no new event (the cron sweep); whether it did. */
  sweepIfStuck(now: number): Step<S, boolean> {
    return this.step(() => {
      const state = this.timeline.state;
      if (!state || now - state.updatedAt < this.options.timing.stuckMs) return false;
      const finish = finishOrphanedTurn(state, undefined, 'stuck', now);
      if (!finish) return false;
      this.timeline.commit([{ body: finish }]);
      return true;
    });
  }

  /** The newest checkpoint event, for the next turn's build. */
  lastCheckpoint(): Extract<SessionEvent, { type: 'checkpoint' }> | undefined {
    const event = this.options.store.log.lastOfType('checkpoint');
    return event?.type === 'checkpoint' ? event : undefined;
  }

  /**
   * Reads a raw ingest message: JSON text within `MAX_FRAME_BYTES`, an `ingestFrame`. A bad one
   * is refused (answered, counted, fatal past `MAX_BAD_FRAMES`) and undefined comes back.
   */
  readIngest(socket: S, message: string | ArrayBuffer): Step<S, IngestFrame | undefined> {
    return this.step(() => {
      const read = readFrame(ingestFrame, message);
      if (read.ok) return read.frame;
      this.refuse(socket, read.code, read.message);
      return undefined;
    });
  }

  /** Handles one ingest frame (after the object re-checked the holder's access for `hello`). */
  onIngestFrame(socket: S, frame: IngestFrame): Step<S> {
    return this.step(() => {
      switch (frame.type) {
        case 'ping':
          this.send(socket, pongFrame());
          return undefined;
        case 'hello':
          this.onHello(socket, frame.buildId, frame.producerEpoch);
          return undefined;
        case 'events':
          this.onEvents(socket, frame.firstProducerSeq, frame.events);
          return undefined;
        default: {
          const unknown: never = frame;
          throw new Error(`unhandled ingest frame ${JSON.stringify(unknown)}`);
        }
      }
    });
  }

  /**
   * The alarm rang: runs every due timer (lease checks, the interrupt deadline) and points the
   * alarm at the next one. Returns whether the D1 write-through is due (the object runs it, then
   * calls `retryWriteThrough` if it failed).
   */
  tick(): Step<S, { writeThrough: boolean }> {
    return this.step(() => {
      const now = this.clock();
      let writeThrough = false;
      for (const timer of this.timeline.takeDueTimers(now)) {
        switch (timer) {
          case 'write-through':
            writeThrough = true;
            break;
          case 'lease':
            this.checkLeases(now);
            break;
          case 'interrupt':
            this.enforceInterrupt(now);
            break;
          default: {
            const unknown: never = timer;
            throw new Error(`unknown timer ${String(unknown)}`);
          }
        }
      }
      this.timeline.syncAlarm();
      return { writeThrough };
    });
  }

  /** The write-through failed: try again at `at` (ms epoch). */
  retryWriteThrough(at: number): Step<S> {
    return this.step(() => {
      this.timeline.setTimer('write-through', at);
      return undefined;
    });
  }

  // --- producers ---

  private putNewBuild(buildId: string, holder: string, agent: string, model: string) {
    const leaseExpiresAt = this.clock() + this.options.timing.leaseMs;
    this.options.store.putBuild({
      buildId,
      holder,
      agent,
      model,
      epoch: -1,
      ackedProducerSeq: 0,
      leaseExpiresAt,
      status: 'leased',
    });
    this.timeline.setTimer('lease', leaseExpiresAt);
    return { buildId, leaseExpiresAt };
  }

  private onHello(socket: S, buildId: string, epoch: number): void {
    const { store, sockets } = this.options;
    const build = store.getBuild(buildId);
    const attachment = sockets.attachment(socket);
    // A build whose lease expired may come back within its grace period and continue.
    const open = build?.status === 'leased' || build?.status === 'expired';
    if (!build || build.holder !== attachment.principal || !open) {
      this.fatal(socket, 'no-lease', `build ${buildId} is not leased to you`);
      return;
    }
    if (epoch < build.epoch) {
      this.fatal(socket, 'stale-epoch', `producer epoch ${epoch} is older than ${build.epoch}`);
      return;
    }
    // The newest connection for a build wins: an older socket (a zombie, or a half-open
    // connection the producer already gave up on) is fenced off.
    for (const other of sockets.all()) {
      if (other !== socket && sockets.attachment(other).buildId === buildId) {
        this.fatal(other, 'stale-epoch', 'another producer connection took over this build');
      }
    }
    const leaseExpiresAt = this.clock() + this.options.timing.leaseMs;
    store.putBuild({ ...build, epoch, status: 'leased', leaseExpiresAt });
    this.timeline.setTimer('lease', leaseExpiresAt);
    sockets.setAttachment(socket, { ...attachment, buildId, epoch });
    this.send(socket, readyFrame(build.ackedProducerSeq));
  }

  private onEvents(
    socket: S,
    firstProducerSeq: number,
    events: Extract<IngestFrame, { type: 'events' }>['events'],
  ): void {
    const { store, sockets } = this.options;
    const { buildId, epoch } = sockets.attachment(socket);
    if (buildId === undefined || epoch === undefined) {
      this.refuse(socket, 'bad-frame', 'send hello before events');
      return;
    }
    const build = store.getBuild(buildId);
    if (!build || build.epoch !== epoch) {
      this.fatal(socket, 'stale-epoch', 'a newer producer took over this build');
      return;
    }
    if (build.status !== 'leased' && build.status !== 'expired') {
      this.fatal(socket, 'no-lease', `build ${buildId} is ${build.status}`);
      return;
    }
    if (!this.bucket(socket).take(events.length, this.clock())) {
      const message = `at most ${MAX_INGEST_EVENTS_PER_SECOND} events per second; resend after a pause`;
      this.send(socket, errorFrame('rate-limited', message, false, build.ackedProducerSeq + 1));
      return;
    }
    // `recordedAt` travels beside the bodies: only an import build may set commit times.
    const recordedAt = events.map((e) => e.recordedAt);
    if (!isImportBuild(buildId) && recordedAt.some((at) => at !== undefined)) {
      this.refuse(socket, 'bad-frame', 'recordedAt is only for import builds');
      return;
    }
    const bodies = events.map(({ recordedAt: _, ...body }) => body);
    const admission = admitFrame(build.ackedProducerSeq, firstProducerSeq, bodies);
    switch (admission.kind) {
      case 'gap': {
        const expected = admission.expectedProducerSeq;
        const message = `expected producer seq ${expected}, got ${firstProducerSeq}`;
        this.send(socket, errorFrame('producer-gap', message, false, expected));
        return;
      }
      case 'duplicate':
        this.send(socket, ackFrame(admission.ackedProducerSeq));
        return;
      case 'append': {
        const refusal = checkEvents(
          admission.events.map((e) => e.body),
          buildId,
          build.holder,
        );
        if (refusal) {
          this.refuse(socket, refusal.code, refusal.message);
          return;
        }
        const lastProducerSeq = admission.events[admission.events.length - 1]!.producerSeq;
        const leaseExpiresAt = this.clock() + this.options.timing.leaseMs;
        const merged = dropLateTurnEnds(this.requireState(), coalesceDeltas(admission.events));
        this.timeline.commit(
          merged.map((e) => {
            const at = recordedAt[e.producerSeq - firstProducerSeq];
            return { ...e, buildId, ...(at === undefined ? {} : { at }) };
          }),
          () =>
            store.putBuild({
              ...build,
              status: 'leased',
              ackedProducerSeq: lastProducerSeq,
              leaseExpiresAt,
            }),
        );
        this.timeline.setTimer('lease', leaseExpiresAt);
        this.send(socket, ackFrame(lastProducerSeq));
        return;
      }
      default: {
        const unknown: never = admission;
        throw new Error(`unhandled admission ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** Applies lease expiry, renewal by auto-answered pings, and loss after the grace period. */
  private checkLeases(now: number): void {
    const { store, sockets, timing } = this.options;
    const builds = store.openBuilds();
    const lastPing = new Map<string, number>();
    for (const socket of sockets.all()) {
      const { buildId } = sockets.attachment(socket);
      const at = sockets.lastPingAt(socket);
      if (buildId && at) lastPing.set(buildId, Math.max(at, lastPing.get(buildId) ?? 0));
    }
    const { actions, nextCheckAt } = leaseActions(
      builds.map((b) => ({ ...b, lastPingAt: lastPing.get(b.buildId) })),
      now,
      timing.leaseMs,
      timing.graceMs,
    );
    for (const action of actions) {
      const build = builds.find((b) => b.buildId === action.buildId)!;
      switch (action.kind) {
        case 'renew':
          store.putBuild({ ...build, leaseExpiresAt: action.leaseExpiresAt });
          break;
        case 'expire':
          store.putBuild({ ...build, status: 'expired', leaseExpiresAt: action.graceUntil });
          break;
        case 'lose':
          this.lose(build, now);
          break;
        default: {
          const unknown: never = action;
          throw new Error(`unhandled lease action ${JSON.stringify(unknown)}`);
        }
      }
    }
    if (nextCheckAt !== undefined) this.timeline.setTimer('lease', nextCheckAt);
  }

  /** The grace period ended: the build's running turn fails (once) and its sockets are closed. */
  private lose(build: BuildRow, now: number): void {
    const { store, sockets } = this.options;
    const finish = finishOrphanedTurn(this.requireState(), build.buildId, 'runner-lost', now);
    this.timeline.commit(finish ? [{ body: finish }] : [], () =>
      store.putBuild({ ...build, status: 'lost' }),
    );
    for (const socket of sockets.all()) {
      if (sockets.attachment(socket).buildId === build.buildId) {
        this.fatal(socket, 'no-lease', 'the lease on this build was lost');
      }
    }
  }

  private enforceInterrupt(now: number): void {
    const { store } = this.options;
    const turnId = store.getMeta('interruptTurnId');
    store.deleteMeta('interruptTurnId');
    const state = this.requireState();
    const turn = state.turns.find((t) => t.turnId === turnId);
    if (turn?.status !== 'running') return;
    const finish = finishOrphanedTurn(state, turn.buildId, 'interrupted', now);
    if (finish) this.timeline.commit([{ body: finish }]);
  }

  private commandProducers(command: RunnerCommand): void {
    for (const socket of this.options.sockets.all()) this.send(socket, commandFrame(command));
  }

  /** The socket's events-per-second bucket (in memory; full again after hibernation). */
  private bucket(socket: S): TokenBucket {
    let bucket = this.buckets.get(socket);
    if (!bucket) {
      const rate = MAX_INGEST_EVENTS_PER_SECOND;
      bucket = new TokenBucket(rate, rate * 2, this.clock());
      this.buckets.set(socket, bucket);
    }
    return bucket;
  }

  // --- effects ---

  /** Runs `fn` and hands back its value with the effects it queued (none if it threw). */
  private step<T>(fn: () => T): Step<S, T> {
    this.out = [];
    try {
      const value = fn();
      return { value, effects: this.out };
    } finally {
      this.out = [];
    }
  }

  private send(socket: S, frame: IngestServerFrame): void {
    this.out.push({ kind: 'send', socket, frame });
  }

  /** Refuses a frame: answered with `error`, counted; fatal past `MAX_BAD_FRAMES`. */
  private refuse(socket: S, code: ErrorCode, message: string): void {
    const { sockets } = this.options;
    const attachment = sockets.attachment(socket);
    const struck = strike(attachment.badFrames, { code, message });
    this.send(socket, errorFrame(code, struck.message, struck.fatal));
    if (struck.fatal) {
      this.out.push({ kind: 'close', socket, code: 1008, reason: 'too many bad frames' });
    } else {
      sockets.setAttachment(socket, { ...attachment, badFrames: struck.badFrames });
    }
  }

  private fatal(socket: S, code: ErrorCode, message: string): void {
    this.send(socket, errorFrame(code, message, true));
    this.out.push({ kind: 'close', socket, code: 1008, reason: code });
  }
}

/** The id of a session's one import build (`POST …/builds {import: true}`). */
function importBuildId(sessionId: string): string {
  return `${sessionId}:import`;
}

function isImportBuild(buildId: string): boolean {
  return buildId.endsWith(':import');
}
