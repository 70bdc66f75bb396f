import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FinishedTurnStatus,
  type HubServerFrame,
  hubServerFrame,
  parseFrame,
  type RunnerEventBody,
  type RunnerHubFrame,
} from '@kiln/protocol';
import ReconnectingWebSocket from 'partysocket/ws';
import WebSocket from 'ws';
import type { Agent } from '../agents/agent';
import { IngestProducer, type IngestProducerOptions } from '../ingest/producer';
import { ServerError } from '../net/errors';
import { socketUrl } from '../net/http';
import { type BuildInfo, Outbox, type ResumableBuild } from '../outbox';
import { uploadArtifacts } from './artifact-upload';
import { PREVIEW_DIR, type PreviewServer } from './preview-server';

/** Options of a `RunnerDaemon`. Times in ms. */
export interface RunnerDaemonOptions {
  /** http(s) origin of the Kiln server. */
  server: string;
  /** Runner token (`kiln_rt_…`). */
  token: string;
  /** Directory holding one workspace per project (`<workspaces>/<projectId>`). */
  workspaces: string;
  /** The durable outbox file; default `<workspaces>/.kiln-outbox.db`. */
  outboxPath?: string;
  /** Builds run at once; default 2. */
  capacity?: number;
  /** The agents this runner offers, by name (only available ones are advertised). */
  agents: readonly Agent[];
  /** Let agents run commands unsandboxed where no sandbox can be made (`ToolContext`). */
  unsandboxedCommands?: boolean;
  /**
   * The runner's own preview server (`--serve-preview`): when set, `preview-updated` names its URL
   * instead of Kiln's. Either way a built `dist/` is uploaded to Kiln as a version.
   */
  preview?: PreviewServer;
  /** Reported to the hub. */
  version?: string;
  /** Heartbeat interval; default 10 000. */
  heartbeatMs?: number;
  /** Reconnect backoff: first delay and cap (each jittered ×0.5–1.5); defaults 500 and 15 000. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Progress lines for a person (connected, build started/finished, reconnecting). */
  log?: (line: string) => void;
}

type BuildCommand = Extract<HubServerFrame, { type: 'build' }>;

interface ActiveBuild {
  abort: AbortController;
  /** Set once the outbox has given the build its epoch. */
  producer?: IngestProducer;
  done: Promise<void>;
}

/** `turn-finished.error` of a turn whose runner was killed while it ran. */
const RUNNER_RESTARTED =
  'runner-restarted: the runner stopped during this turn; everything up to that point is kept';

/**
 * `kiln runner` (DESIGN §6): connects out to the account's RunnerHubDO (so it works behind NAT),
 * says hello with its version, available agents and capacity, heartbeats, accepts builds up to
 * capacity and runs each in its project's workspace. Every event goes through the durable libSQL
 * outbox into an idempotent ingest producer: stored before it is sent, deleted when acked. On
 * start the daemon resumes every build the outbox still holds (a raised producer epoch; resending
 * from the server's `ready.ackedProducerSeq`) and ends a turn the previous process never finished.
 * The control socket reconnects with exponential backoff and jitter.
 */
export class RunnerDaemon {
  private socket: ReconnectingWebSocket | null = null;
  private outbox: Outbox | null = null;
  private readonly active = new Map<string, ActiveBuild>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly instance = `${hostname()}-${process.pid}`;
  private readonly capacity: number;
  private readonly agents: Map<string, Agent>;
  private stopping = false;
  /** Set when a stop's flush time is over: builds still delivering leave the rest in the outbox. */
  private flushDeadlinePassed = false;
  private attempts = 0;

  constructor(private readonly options: RunnerDaemonOptions) {
    this.capacity = options.capacity ?? 2;
    this.agents = new Map(options.agents.map((a) => [a.name, a]));
  }

  /** Builds running (or being resumed) now, by id. */
  get activeBuilds(): string[] {
    return [...this.active.keys()];
  }

  /** The agents this runner can run now: those without an `unavailable()` reason. */
  availableAgents(): string[] {
    return [...this.agents.values()].filter((a) => !a.unavailable?.()).map((a) => a.name);
  }

  /** Opens the outbox, resumes what it holds, then connects (and keeps reconnecting) until `stop`. */
  async start(): Promise<void> {
    await mkdir(this.options.workspaces, { recursive: true });
    this.outbox = await Outbox.open(
      this.options.outboxPath ?? path.join(this.options.workspaces, '.kiln-outbox.db'),
    );
    for (const build of await this.outbox.resumableBuilds()) this.resume(build);
    this.connect();
  }

  /**
   * Graceful stop: takes no new builds, lets running turns finish for up to `graceMs`, then
   * interrupts the rest (each ends `interrupted`); waits up to `flushMs` more for their events to
   * be acknowledged (what is not stays in the outbox for the next start), and disconnects.
   */
  async stop({ graceMs = 30_000, flushMs = 10_000 } = {}): Promise<void> {
    this.stopping = true;
    const all = () => Promise.allSettled([...this.active.values()].map((b) => b.done));
    const interrupt = setTimeout(() => {
      if (this.active.size > 0) this.log(`interrupting ${this.active.size} running build(s)`);
      for (const build of this.active.values()) build.abort.abort();
    }, graceMs);
    const giveUp = setTimeout(() => {
      this.flushDeadlinePassed = true;
      for (const build of this.active.values()) build.producer?.close();
    }, graceMs + flushMs);
    await all();
    clearTimeout(interrupt);
    clearTimeout(giveUp);
    clearInterval(this.heartbeatTimer);
    this.socket?.close(1000, 'runner stopping');
    await this.options.preview?.close();
    this.outbox?.close();
  }

  // --- the hub's control socket ---

  private connect(): void {
    const { server, token } = this.options;
    const url = socketUrl(server, '/api/runners/connect');
    const min = this.options.minRetryDelayMs ?? 500;
    const max = this.options.maxRetryDelayMs ?? 15_000;
    // partysocket's own delay has no jitter; the URL provider runs before every attempt, so the
    // jittered backoff is slept there (and partysocket's delay kept minimal).
    const urlProvider = async () => {
      if (this.attempts > 0) {
        const base = Math.min(max, min * 2 ** (this.attempts - 1));
        await sleep(base * (0.5 + Math.random()));
      }
      this.attempts++;
      return url;
    };
    class AuthorizedWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { authorization: `Bearer ${token}` } });
      }
    }
    const socket = new ReconnectingWebSocket(urlProvider, undefined, {
      WebSocket: AuthorizedWebSocket,
      minReconnectionDelay: 1,
      maxReconnectionDelay: 1,
      connectionTimeout: 10_000,
    });
    this.socket = socket;
    socket.addEventListener('open', () => {
      this.attempts = 0;
      const agents = this.availableAgents();
      this.log(`connected to ${server} (agents: ${agents.join(', ')})`);
      this.send({
        type: 'hello',
        runnerId: this.instance,
        version: this.options.version ?? '0.0.0',
        agents,
        capacity: this.capacity,
      });
      this.heartbeat();
    });
    let lastError = '';
    socket.addEventListener('error', (event) => {
      // partysocket's ErrorEvent carries the ws error (refused, 401…); 'close' follows it.
      lastError = (event as { error?: Error }).error?.message ?? '';
    });
    socket.addEventListener('close', (event) => {
      if (this.stopping) return;
      const why = lastError ? `: ${lastError}` : ` (${event.code})`;
      lastError = '';
      this.log(`control socket closed${why}; reconnecting`);
    });
    socket.addEventListener('message', (event) => {
      const parsed = parseFrame(hubServerFrame, String(event.data));
      if (!parsed.ok) {
        this.log(`ignored a bad frame from the hub: ${parsed.message}`);
        return;
      }
      this.onFrame(parsed.frame);
    });
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.options.heartbeatMs ?? 10_000);
  }

  private onFrame(frame: HubServerFrame): void {
    switch (frame.type) {
      case 'build':
        this.onBuild(frame);
        return;
      case 'cancel':
        this.active.get(frame.buildId)?.abort.abort();
        return;
      case 'error':
        this.log(`hub error: ${frame.message}`);
        return;
      case 'pong':
        return;
      default: {
        const unknown: never = frame;
        throw new Error(`unhandled hub frame ${JSON.stringify(unknown)}`);
      }
    }
  }

  private onBuild(command: BuildCommand): void {
    if (this.active.has(command.buildId)) return; // a repeated offer after a reconnect
    const agent = this.agents.get(command.agent);
    const reason = this.stopping
      ? 'runner stopping'
      : !agent
        ? `no ${command.agent} agent`
        : this.active.size >= this.capacity
          ? 'at capacity'
          : undefined;
    if (reason || !agent || !this.outbox) {
      this.send({ type: 'build-rejected', buildId: command.buildId, reason: reason ?? 'starting' });
      return;
    }
    const abort = new AbortController();
    const info: BuildInfo = {
      buildId: command.buildId,
      sessionId: command.sessionId,
      projectId: command.projectId,
      turnId: command.turnId,
      agent: agent.name,
    };
    // Listed before accepting: the hub ends a running build that a heartbeat no longer lists.
    const build: ActiveBuild = { abort, done: Promise.resolve() };
    this.active.set(command.buildId, build);
    this.send({ type: 'build-accepted', buildId: command.buildId });
    build.done = this.track(command.buildId, this.runBuild(agent, command, info, build));
  }

  // --- builds ---

  /** Runs one turn of `agent` and streams it into the leased build; never throws. */
  private async runBuild(
    agent: Agent,
    command: BuildCommand,
    info: BuildInfo,
    build: ActiveBuild,
  ): Promise<void> {
    const { abort } = build;
    const { buildId, sessionId, projectId, turnId, prompt, model } = command;
    const outbox = this.outbox!;
    const workspace = path.join(this.options.workspaces, projectId);
    this.log(`build ${buildId}: ${agent.name} in ${workspace}`);
    let status: FinishedTurnStatus = 'completed';
    let error: string | undefined;
    const started = performance.now();
    let producer: IngestProducer;
    try {
      await outbox.describeBuild(info);
      // Raised on every (re)start for the build: the first process says 1.
      producer = this.producer(info, await outbox.nextEpoch(buildId), abort);
      build.producer = producer;
    } catch (thrown) {
      this.log(`build ${buildId}: the outbox failed: ${String(thrown)}`);
      return;
    }
    const emit = (event: RunnerEventBody) => producer.append([event]);
    try {
      await mkdir(workspace, { recursive: true });
      emit({
        type: 'turn-started',
        turnId,
        buildId,
        runnerId: this.instance,
        agent: agent.name,
        model,
      });
      abort.signal.throwIfAborted(); // a stop or cancel that came while the build was set up
      await agent.run({
        buildId,
        sessionId,
        projectId,
        turnId,
        prompt,
        model,
        ...(command.permissionMode ? { permissionMode: command.permissionMode } : {}),
        checkpoint: command.checkpoint,
        workspace,
        ...(this.options.unsandboxedCommands ? { unsandboxedCommands: true } : {}),
        signal: abort.signal,
        emit,
      });
      if (abort.signal.aborted) status = 'interrupted';
    } catch (thrown) {
      status = abort.signal.aborted ? 'interrupted' : 'failed';
      error = thrown instanceof Error ? thrown.message : String(thrown);
    }
    try {
      const preview = status === 'completed' ? await this.publish(command, workspace) : undefined;
      // An interrupt accepted while dist/ was uploading still ends the turn interrupted (the turn
      // was running, its Interrupt button shown); the version it stored stays listed.
      if (abort.signal.aborted) status = 'interrupted';
      else if (preview) emit({ type: 'preview-updated', status: 'ready', ...preview });
      emit({
        type: 'turn-finished',
        turnId,
        status,
        ...(status === 'failed' && error ? { error } : {}),
        durationMs: Math.round(performance.now() - started),
      });
    } catch (thrown) {
      this.log(`build ${buildId}: could not store its last events: ${String(thrown)}`);
    }
    await this.deliver(buildId, producer);
    this.log(`build ${buildId}: ${status}${error ? ` (${error})` : ''}`);
  }

  /**
   * After a successful turn whose workspace has `dist/index.html`: uploads `dist/` to Kiln as a
   * new version (while the build's lease is still held) and returns what `preview-updated` says —
   * Kiln's preview URL and the version, or the runner's own preview server's URL when it serves
   * one. An upload Kiln refuses is logged and leaves the previous preview in place.
   */
  private async publish(
    command: BuildCommand,
    workspace: string,
  ): Promise<{ url: string; version?: number } | undefined> {
    const { buildId, turnId, projectId } = command;
    const local = this.options.preview?.urlFor(projectId);
    const dist = path.join(workspace, PREVIEW_DIR);
    if (!existsSync(path.join(dist, 'index.html'))) return local ? { url: local } : undefined;
    try {
      const { server, token } = this.options;
      const stored = await uploadArtifacts({ server, token }, { buildId, turnId }, dist);
      this.log(
        `build ${buildId}: version ${stored.version} (${stored.files} files) at ${stored.url}`,
      );
      // Without `version` the event names the runner's own server (PROTOCOL.md §10).
      return local ? { url: local } : { url: stored.url, version: stored.version };
    } catch (thrown) {
      this.log(`build ${buildId}: could not upload dist/: ${String(thrown)}`);
      return local ? { url: local } : undefined;
    }
  }

  /**
   * Picks up a build a previous process left in the outbox: resends what the server lacks under a
   * raised epoch and, if the turn never ended, ends it `failed: runner-restarted`.
   */
  private resume(build: ResumableBuild): void {
    const abort = new AbortController();
    const entry: ActiveBuild = { abort, done: Promise.resolve() };
    this.active.set(build.buildId, entry);
    const run = async () => {
      const outbox = this.outbox!;
      const entries = await outbox.allUnacked(build.buildId);
      const epoch = await outbox.nextEpoch(build.buildId);
      const producer = this.producer(build, epoch, abort, {
        ackedSeq: build.ackedSeq,
        nextSeq: build.nextSeq,
        entries,
      });
      entry.producer = producer;
      this.log(
        `build ${build.buildId}: resuming with ${entries.length} unacknowledged event(s) (epoch ${epoch})`,
      );
      if (!build.finished) {
        producer.append([
          {
            type: 'turn-finished',
            turnId: build.turnId,
            status: 'failed',
            error: RUNNER_RESTARTED,
            durationMs: 0,
          },
        ]);
      }
      await this.deliver(build.buildId, producer);
    };
    entry.done = this.track(
      build.buildId,
      run().catch((error: unknown) => {
        this.log(`build ${build.buildId}: could not resume: ${String(error)}`);
        entry.producer?.close();
      }),
    );
  }

  /** Waits until every event of the build is acknowledged, then forgets it in the outbox. */
  private async deliver(buildId: string, producer: IngestProducer): Promise<void> {
    if (this.flushDeadlinePassed) producer.close();
    try {
      await producer.flush();
      await this.outbox!.forget(buildId);
    } catch (thrown) {
      if (thrown instanceof ServerError && thrown.permanent) {
        // The server will never take these (lease lost, token revoked): the session's lifecycle
        // ends the turn, and keeping them would only retry forever.
        this.log(`build ${buildId}: its events were refused for good: ${thrown.message}`);
        await this.outbox!.forget(buildId).catch(() => undefined); // best effort, reported above
      } else {
        // Closed by a shutdown before everything was acked: the outbox keeps the rest for the
        // next start.
        this.log(
          `build ${buildId}: events left in the outbox for the next start: ${String(thrown)}`,
        );
      }
    } finally {
      producer.close();
    }
  }

  /** A build's ingest producer over the outbox; the session's interrupt aborts the turn. */
  private producer(
    build: BuildInfo,
    producerEpoch: number,
    abort: AbortController,
    resume?: IngestProducerOptions['resume'],
  ): IngestProducer {
    const { buildId, sessionId } = build;
    return new IngestProducer({
      url: socketUrl(this.options.server, `/api/sessions/${encodeURIComponent(sessionId)}/ingest`),
      token: this.options.token,
      buildId,
      producerEpoch,
      store: this.outbox!.forBuild(buildId),
      ...(resume ? { resume } : {}),
      onCommand: (c) => {
        if (c.kind === 'interrupt') {
          this.log(`build ${buildId}: interrupted`);
          abort.abort();
        }
      },
      onNotice: (line) => this.log(`build ${buildId}: ${line}`),
    });
  }

  /** Removes the build when `done` settles and tells the hub, so the session's next turn starts. */
  private track(buildId: string, done: Promise<void>): Promise<void> {
    return done.finally(() => {
      this.active.delete(buildId);
      this.heartbeat();
    });
  }

  private heartbeat(): void {
    this.send({ type: 'heartbeat', activeBuilds: this.activeBuilds });
  }

  private send(frame: RunnerHubFrame): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}
