import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Agent, TurnContext } from '../agents/agent';
import { RunnerDaemon } from './runner-daemon';

type Frame = Record<string, unknown> & { type: string };

/**
 * A stand-in for the hub and the ingest endpoint on one localhost port: records every control
 * frame, and acknowledges every ingest frame (each build starts at producer seq 0).
 */
class FakeHub {
  readonly frames: Frame[] = [];
  readonly ingested: Frame[] = [];
  control: WebSocket | undefined;
  connections = 0;
  /** Answers the runner's HTTP requests (artifact uploads); 404 unless a test sets it. */
  onHttp: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) =>
    res.writeHead(404).end();
  private http: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true });
  private listeners = new Set<() => void>();

  async start(): Promise<string> {
    this.http = createServer((req, res) => {
      this.onHttp(req, res);
      this.notify();
    });
    this.http.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        if (req.url?.startsWith('/api/runners/connect')) this.acceptControl(ws);
        else this.acceptIngest(ws);
      });
    });
    await new Promise<void>((r) => this.http!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((r) => this.http?.close(() => r()));
  }

  send(frame: Frame): void {
    this.control?.send(JSON.stringify(frame));
  }

  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** Resolves once `check` holds, re-checked after every frame (5 s timeout). */
  waitFor(check: () => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 5_000);
      const listener = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve();
      };
      this.listeners.add(listener);
      listener();
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private acceptControl(ws: WebSocket): void {
    this.connections++;
    this.control = ws;
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)));
      this.notify();
    });
  }

  private acceptIngest(ws: WebSocket): void {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (frame.type === 'hello') ws.send(JSON.stringify({ type: 'ready', ackedProducerSeq: 0 }));
      if (frame.type === 'events') {
        const events = frame.events as Frame[];
        this.ingested.push(...events);
        const last = (frame.firstProducerSeq as number) + events.length - 1;
        ws.send(JSON.stringify({ type: 'ack', producerSeq: last }));
      }
      this.notify();
    });
  }
}

/** An agent whose turns run until released (or aborted), so tests control their length. */
class GateAgent implements Agent {
  readonly name = 'gate';
  readonly running = new Map<string, { ctx: TurnContext; release: () => void }>();
  readonly aborted: string[] = [];

  run(ctx: TurnContext): Promise<void> {
    return new Promise((resolve) => {
      this.running.set(ctx.buildId, { ctx, release: resolve });
      ctx.signal.addEventListener('abort', () => {
        this.aborted.push(ctx.buildId);
        resolve();
      });
    });
  }
}

const missingCli: Agent = {
  name: 'missing-cli',
  unavailable: () => 'the missing-cli agent needs `nothing-here` on PATH',
  run: async () => {
    throw new Error('unreachable');
  },
};

let hub: FakeHub;
let dir: string;
let daemon: RunnerDaemon;
let gate: GateAgent;

beforeEach(async () => {
  hub = new FakeHub();
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-daemon-'));
  gate = new GateAgent();
  daemon = new RunnerDaemon({
    server: await hub.start(),
    token: 'kiln_rt_test',
    workspaces: dir,
    capacity: 2,
    agents: [gate, missingCli],
    version: '9.9.9',
    heartbeatMs: 60_000,
    minRetryDelayMs: 5,
    maxRetryDelayMs: 20,
  });
  await daemon.start();
});

afterEach(async () => {
  await daemon.stop({ graceMs: 0, flushMs: 1_000 });
  await hub.stop();
  await rm(dir, { recursive: true, force: true });
});

const build = (n: number): Frame => ({
  type: 'build',
  buildId: `b${n}`,
  sessionId: `s${n}`,
  projectId: `p${n}`,
  turnId: `t${n}`,
  prompt: 'go',
  agent: 'gate',
  model: '',
});

describe('RunnerDaemon', () => {
  it('says hello with its version, capacity and only the agents that can run here', async () => {
    await hub.waitFor(() => hub.of('hello').length === 1, 'hello');
    expect(hub.of('hello')[0]).toMatchObject({
      version: '9.9.9',
      capacity: 2,
      agents: ['gate'],
    });
  });

  it('runs builds concurrently up to its capacity, each in its project workspace, and rejects the next', async () => {
    await hub.waitFor(() => hub.of('hello').length === 1, 'hello');
    for (const n of [1, 2, 3]) hub.send(build(n));
    await hub.waitFor(
      () => hub.of('build-accepted').length === 2 && hub.of('build-rejected').length === 1,
      'two accepted, one rejected',
    );
    expect(hub.of('build-rejected')[0]).toMatchObject({ buildId: 'b3', reason: 'at capacity' });
    await hub.waitFor(() => gate.running.size === 2, 'two turns running');
    expect(gate.running.get('b1')!.ctx.workspace).toBe(path.join(dir, 'p1'));
    expect(daemon.activeBuilds.sort()).toEqual(['b1', 'b2']);

    // b1 finishes: its events are acknowledged and the heartbeat stops listing it.
    gate.running.get('b1')!.release();
    await hub.waitFor(
      () => hub.of('heartbeat').some((h) => JSON.stringify(h.activeBuilds) === '["b2"]'),
      'heartbeat without b1',
    );
    expect(hub.ingested.filter((e) => e.type === 'turn-finished')).toEqual([
      expect.objectContaining({ turnId: 't1', status: 'completed' }),
    ]);
    // A slot is free again.
    hub.send(build(4));
    await hub.waitFor(() => hub.of('build-accepted').length === 3, 'b4 accepted');
  });

  it("a cancel aborts the build's turn, which ends interrupted", async () => {
    await hub.waitFor(() => hub.of('hello').length === 1, 'hello');
    hub.send(build(1));
    await hub.waitFor(() => gate.running.size === 1, 'turn running');
    hub.send({ type: 'cancel', buildId: 'b1' });
    await hub.waitFor(
      () => hub.ingested.some((e) => e.type === 'turn-finished'),
      'turn-finished ingested',
    );
    expect(gate.aborted).toEqual(['b1']);
    expect(hub.ingested.find((e) => e.type === 'turn-finished')).toMatchObject({
      status: 'interrupted',
    });
  });

  it('an interrupt accepted while dist/ uploads ends the turn interrupted, with no preview', async () => {
    // The upload's first request is held until the interrupt has been taken.
    let held: ServerResponse | undefined;
    hub.onHttp = (_req, res) => {
      held = res;
    };
    await hub.waitFor(() => hub.of('hello').length === 1, 'hello');
    hub.send(build(1));
    await hub.waitFor(() => gate.running.size === 1, 'turn running');
    const turn = gate.running.get('b1')!;
    await mkdir(path.join(turn.ctx.workspace, 'dist'), { recursive: true });
    await writeFile(path.join(turn.ctx.workspace, 'dist', 'index.html'), '<p>built</p>');
    turn.release();
    await hub.waitFor(() => held !== undefined, 'upload started');
    turn.ctx.signal.addEventListener('abort', () => held!.writeHead(503).end());
    hub.send({ type: 'cancel', buildId: 'b1' });
    await hub.waitFor(
      () => hub.ingested.some((e) => e.type === 'turn-finished'),
      'turn-finished ingested',
    );
    expect(hub.ingested.find((e) => e.type === 'turn-finished')).toMatchObject({
      status: 'interrupted',
    });
    expect(hub.ingested.some((e) => e.type === 'preview-updated')).toBe(false);
  });

  it('reconnects after the hub drops it and says hello again', async () => {
    await hub.waitFor(() => hub.of('hello').length === 1, 'hello');
    hub.control!.terminate();
    await hub.waitFor(() => hub.of('hello').length === 2, 'second hello');
    expect(hub.connections).toBe(2);
  });
});
