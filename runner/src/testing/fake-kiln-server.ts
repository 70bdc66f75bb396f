import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  clientFrame,
  ingestFrame,
  PROTOCOL_VERSION,
  parseFrame,
  type RunnerEventBody,
  type SessionEvent,
} from '@kiln/protocol';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A minimal Kiln server for tests, on a free localhost port with real sockets: the build lease
 * (`POST /api/projects/:p/sessions/:s/builds`), the ingest socket following the SessionDO's
 * producer rules (duplicates dropped and acked again, gaps refused with the expected seq, lower
 * epochs fenced), and the subscriber socket replaying committed events from `hello.lastSeq`.
 * Knobs lose frames, kill sockets, hold acks and skip a seq, to exercise the clients' recovery.
 */
export class FakeKilnServer extends EventEmitter {
  /** Events committed, in producer-seq order; index i holds producer seq i + 1 and session seq i + 1. */
  readonly committed: RunnerEventBody[] = [];
  /** Every `events` frame received, as parsed. */
  readonly frames: { firstProducerSeq: number; events: RunnerEventBody[]; bytes: number }[] = [];
  /** Frames that failed the protocol's `ingestFrame` schema. */
  readonly badFrames: string[] = [];
  /** Leases handed out, as `projectId/sessionId`. */
  readonly leases: string[] = [];
  token = 'secret-token';
  epoch = 0;
  connections = 0;
  pings = 0;
  gapErrors = 0;
  duplicateFrames = 0;
  /** Frame indexes (0-based, over all frames received) to ignore as if lost. */
  dropFrames = new Set<number>();
  /** Frame indexes after whose commit the socket is killed before the ack. */
  killAfterFrames = new Set<number>();
  /** Hold acks until `flushAcks()`; `unackedFrames` counts frames committed and not acked. */
  deferAcks = false;
  /** Indexes of frames refused with `rate-limited` (not stored) the first time they arrive. */
  rateLimitFrames = new Set<number>();
  rateLimited = 0;
  unackedFrames = 0;
  maxUnackedFrames = 0;
  /** Subscribers: leave out one event of the first replay, so the client must resync. */
  skipOnceInReplay = false;
  /** Subscriber `hello` frames received, as their `lastSeq`. */
  readonly hellos: number[] = [];
  private http: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly subscribers = new Set<WebSocket>();
  private deferred: WebSocket | undefined;

  get acked(): number {
    return this.committed.length;
  }

  /** The http origin, once started. */
  origin = '';

  /** Starts listening; resolves with the ingest socket URL of session `s1`. */
  async start(): Promise<string> {
    this.http = createServer((request, response) => this.onRequest(request, response));
    this.http.on('upgrade', (request, socket, head) => {
      if (request.headers.authorization !== `Bearer ${this.token}`) {
        const body = JSON.stringify({ error: { code: 'unauthorized', message: 'bad token' } });
        socket.end(
          `HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
        );
        return;
      }
      const subscriber = /^\/api\/sessions\/[^/]+\/ws$/.test(request.url ?? '');
      this.wss.handleUpgrade(request, socket, head, (ws) =>
        subscriber ? this.acceptSubscriber(ws) : this.acceptIngest(ws),
      );
    });
    await new Promise<void>((resolve) => this.http!.listen(0, '127.0.0.1', resolve));
    const { port } = this.http.address() as AddressInfo;
    this.origin = `http://127.0.0.1:${port}`;
    return `ws://127.0.0.1:${port}/api/sessions/s1/ingest`;
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.http?.close(() => resolve()));
  }

  /** Drops every subscriber socket, as a network blip would. */
  killSubscribers(): void {
    for (const ws of this.subscribers) ws.terminate();
    this.subscribers.clear();
  }

  /** Acks everything committed so far on the socket that is holding acks. */
  flushAcks(): void {
    this.unackedFrames = 0;
    this.deferred?.send(JSON.stringify({ type: 'ack', producerSeq: this.acked }));
  }

  /** Resolves when `check` holds (checked after every frame); rejects after `timeoutMs`. */
  waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('frame', onFrame);
        reject(new Error('timed out waiting for the fake Kiln server'));
      }, timeoutMs);
      const onFrame = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.off('frame', onFrame);
        resolve();
      };
      this.on('frame', onFrame);
    });
  }

  /** Committed events from `from` (a session seq) on, with their envelope. */
  sessionEvents(from: number): SessionEvent[] {
    return this.committed
      .slice(from - 1)
      .map((body, i) => ({ ...body, seq: from + i, at: 1_000 + from + i }));
  }

  // --- HTTP ---

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const match = /^\/api\/projects\/([^/]+)\/sessions\/([^/]+)\/builds$/.exec(request.url ?? '');
    const send = (status: number, body: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (!match || request.method !== 'POST') {
      send(404, { error: { code: 'not-found', message: 'no route' } });
      return;
    }
    if (request.headers.authorization !== `Bearer ${this.token}`) {
      send(401, { error: { code: 'unauthorized', message: 'bad token' } });
      return;
    }
    const [, projectId, sessionId] = match;
    if (projectId === 'missing') {
      send(404, { error: { code: 'not-found', message: 'no such project' } });
      return;
    }
    this.leases.push(`${projectId}/${sessionId}`);
    send(201, {
      buildId: 'build-1',
      sessionId,
      projectId,
      leaseExpiresAt: Date.now() + 30_000,
      ingestPath: `/api/sessions/${sessionId}/ingest`,
    });
  }

  // --- ingest ---

  private acceptIngest(ws: WebSocket): void {
    this.connections++;
    ws.on('message', (data) => {
      // Frames already buffered when a socket was killed are lost with it, as on a real drop.
      if (ws.readyState !== ws.OPEN) return;
      const text = data.toString();
      const parsed = parseFrame(ingestFrame, text);
      if (!parsed.ok) {
        this.badFrames.push(parsed.message);
        return;
      }
      const frame = parsed.frame;
      switch (frame.type) {
        case 'ping':
          this.pings++;
          ws.send('{"type":"pong"}');
          break;
        case 'hello':
          if (frame.producerEpoch < this.epoch) {
            ws.send(error('stale-epoch', 'older epoch', true));
            ws.close(1008);
            break;
          }
          ws.send(JSON.stringify({ type: 'ready', ackedProducerSeq: this.acked }));
          break;
        case 'events':
          this.onEvents(ws, frame.firstProducerSeq, frame.events, Buffer.byteLength(text));
          break;
      }
      this.emit('frame');
    });
  }

  private onEvents(ws: WebSocket, first: number, events: RunnerEventBody[], bytes: number): void {
    const index = this.frames.length;
    this.frames.push({ firstProducerSeq: first, events, bytes });
    if (this.dropFrames.has(index)) return;
    if (this.rateLimitFrames.delete(index)) {
      this.rateLimited++;
      ws.send(error('rate-limited', 'slow down', false, this.acked + 1));
      return;
    }
    if (first > this.acked + 1) {
      this.gapErrors++;
      ws.send(error('producer-gap', 'gap', false, this.acked + 1));
      return;
    }
    const skip = this.acked + 1 - first;
    if (skip >= events.length) {
      this.duplicateFrames++;
      ws.send(JSON.stringify({ type: 'ack', producerSeq: this.acked }));
      return;
    }
    const from = this.acked + 1;
    this.committed.push(...events.slice(skip));
    this.broadcast(from);
    if (this.killAfterFrames.has(index)) {
      ws.terminate();
      return;
    }
    if (this.deferAcks) {
      this.deferred = ws;
      this.unackedFrames++;
      this.maxUnackedFrames = Math.max(this.maxUnackedFrames, this.unackedFrames);
      return;
    }
    ws.send(JSON.stringify({ type: 'ack', producerSeq: this.acked }));
  }

  // --- subscribers ---

  private acceptSubscriber(ws: WebSocket): void {
    ws.send(
      JSON.stringify({
        type: 'ready',
        sessionId: 's1',
        headSeq: this.acked,
        protocolVersion: PROTOCOL_VERSION,
        viewerId: 'viewer-1',
      }),
    );
    ws.on('close', () => this.subscribers.delete(ws));
    ws.on('message', (data) => {
      const parsed = parseFrame(clientFrame, data.toString());
      if (!parsed.ok) {
        this.badFrames.push(parsed.message);
        return;
      }
      if (parsed.frame.type === 'ping') ws.send('{"type":"pong"}');
      if (parsed.frame.type !== 'hello') return;
      this.hellos.push(parsed.frame.lastSeq);
      this.subscribers.add(ws);
      let events = this.sessionEvents(parsed.frame.lastSeq + 1);
      if (this.skipOnceInReplay && events.length > 2) {
        this.skipOnceInReplay = false;
        events = [events[0]!, ...events.slice(2)];
      }
      if (events.length > 0) ws.send(JSON.stringify({ type: 'events', events }));
      this.emit('frame');
    });
  }

  private broadcast(from: number): void {
    const frame = JSON.stringify({ type: 'events', events: this.sessionEvents(from) });
    for (const ws of this.subscribers) ws.send(frame);
  }
}

function error(code: string, message: string, fatal: boolean, expectedProducerSeq?: number) {
  return JSON.stringify({ type: 'error', code, message, fatal, expectedProducerSeq });
}
