import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type HubServerFrame,
  hubServerFrame,
  parseFrame,
  type RunnerEventBody,
  type RunnerHubFrame,
} from '@kiln/protocol';
import ReconnectingWebSocket from 'partysocket/ws';
import WebSocket from 'ws';
import type { Agent } from '../agents/agent';
import { IngestProducer } from '../ingest/producer';
import { socketUrl } from '../net/http';

/** Options of a `RunnerDaemon`. Times in ms. */
export interface RunnerDaemonOptions {
  /** http(s) origin of the Kiln server. */
  server: string;
  /** Runner token (`kiln_rt_…`). */
  token: string;
  /** Directory holding one workspace per project (`<workspaces>/<projectId>`). */
  workspaces: string;
  /** Builds run at once; default 2. */
  capacity?: number;
  /** The agents this runner offers, by name. */
  agents: readonly Agent[];
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
  command: BuildCommand;
  abort: AbortController;
  done: Promise<void>;
}

/**
 * `kiln runner` (DESIGN §6): connects out to the account's RunnerHubDO (so it works behind NAT),
 * says hello with its agents and capacity, heartbeats, accepts builds up to capacity and runs each
 * in its project's workspace, streaming the agent's events through an idempotent ingest producer
 * into the leased build. The control socket reconnects with exponential backoff and jitter.
 */
export class RunnerDaemon {
  private socket: ReconnectingWebSocket | null = null;
  private readonly active = new Map<string, ActiveBuild>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly instance = `${hostname()}-${process.pid}`;
  private readonly capacity: number;
  private readonly agents: Map<string, Agent>;
  private stopping = false;
  private attempts = 0;

  constructor(private readonly options: RunnerDaemonOptions) {
    this.capacity = options.capacity ?? 2;
    this.agents = new Map(options.agents.map((a) => [a.name, a]));
  }

  /** Builds running now (their ids). */
  get activeBuilds(): string[] {
    return [...this.active.keys()];
  }

  /** Connects (and keeps reconnecting) until `stop`. */
  start(): void {
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
      this.log(`connected to ${server}`);
      this.send({
        type: 'hello',
        runnerId: this.instance,
        version: this.options.version ?? '0.0.0',
        agents: [...this.agents.keys()],
        capacity: this.capacity,
      });
      this.heartbeat();
    });
    socket.addEventListener('close', (event) => {
      if (!this.stopping) this.log(`control socket closed (${event.code}); reconnecting`);
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

  /**
   * Stops taking builds, interrupts the running ones (each ends `interrupted` and is flushed), and
   * closes the control socket.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.heartbeatTimer);
    for (const build of this.active.values()) build.abort.abort();
    await Promise.allSettled([...this.active.values()].map((b) => b.done));
    this.socket?.close(1000, 'runner stopping');
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
    const agent = this.agents.get(command.agent);
    if (this.stopping || !agent || this.active.size >= this.capacity) {
      const reason = !agent ? `no ${command.agent} agent` : 'at capacity';
      this.send({ type: 'build-rejected', buildId: command.buildId, reason });
      return;
    }
    if (this.active.has(command.buildId)) return; // a repeated offer after a reconnect
    const abort = new AbortController();
    const build: ActiveBuild = { command, abort, done: Promise.resolve() };
    // Listed before accepting: the hub ends a running build that a heartbeat no longer lists.
    this.active.set(command.buildId, build);
    this.send({ type: 'build-accepted', buildId: command.buildId });
    build.done = this.runBuild(agent, command, abort).finally(() => {
      this.active.delete(command.buildId);
      this.heartbeat(); // tells the hub the build is over, so the session's next turn can start
    });
  }

  /** Runs one turn of `agent` and streams it into the leased build; never throws. */
  private async runBuild(agent: Agent, command: BuildCommand, abort: AbortController) {
    const { buildId, sessionId, projectId, turnId, prompt, model } = command;
    const workspace = path.join(this.options.workspaces, projectId);
    this.log(`build ${buildId}: ${agent.name} in ${workspace}`);
    const producer = new IngestProducer({
      url: socketUrl(this.options.server, `/api/sessions/${encodeURIComponent(sessionId)}/ingest`),
      token: this.options.token,
      buildId,
      producerEpoch: 1,
      onCommand: (c) => {
        if (c.kind === 'interrupt') abort.abort();
      },
      onNotice: (line) => this.log(`build ${buildId}: ${line}`),
    });
    const emit = (event: RunnerEventBody) => producer.append([event]);
    const started = performance.now();
    let status: 'completed' | 'failed' | 'interrupted' = 'completed';
    let error: string | undefined;
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
      await agent.run({
        buildId,
        sessionId,
        projectId,
        turnId,
        prompt,
        model,
        checkpoint: command.checkpoint,
        workspace,
        signal: abort.signal,
        emit,
      });
      if (abort.signal.aborted) status = 'interrupted';
    } catch (thrown) {
      status = abort.signal.aborted ? 'interrupted' : 'failed';
      error = thrown instanceof Error ? thrown.message : String(thrown);
    }
    try {
      emit({
        type: 'turn-finished',
        turnId,
        status,
        ...(status === 'failed' && error ? { error } : {}),
        durationMs: Math.round(performance.now() - started),
      });
      await producer.flush();
      this.log(`build ${buildId}: ${status}${error ? ` (${error})` : ''}`);
    } catch (thrown) {
      // The producer failed for good (lease lost, token revoked): the session's lifecycle ends
      // the turn; all the runner can do is say so.
      this.log(`build ${buildId}: could not deliver its events: ${String(thrown)}`);
    } finally {
      producer.close();
    }
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
