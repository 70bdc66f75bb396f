import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ingestFrame, parseFrame, type RunnerEventBody } from '@kiln/protocol';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * A minimal ingest endpoint for tests: a real `ws` server on a free localhost port that follows
 * the SessionDO's producer rules (duplicates dropped and acked again, gaps refused with the
 * expected seq, lower epochs fenced), plus knobs to lose frames and kill sockets.
 */
export class FakeIngestServer extends EventEmitter {
  /** Events committed, in producer-seq order; index i holds producer seq i + 1. */
  readonly committed: RunnerEventBody[] = [];
  /** Every `events` frame received, as parsed. */
  readonly frames: { firstProducerSeq: number; events: RunnerEventBody[]; bytes: number }[] = [];
  /** Frames that failed the protocol's `ingestFrame` schema. */
  readonly badFrames: string[] = [];
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
  unackedFrames = 0;
  maxUnackedFrames = 0;
  private http: Server | undefined;
  private readonly wss = new WebSocketServer({ noServer: true });
  private deferred: WebSocket | undefined;

  get acked(): number {
    return this.committed.length;
  }

  /** Starts listening; resolves with the ingest socket URL. */
  async start(): Promise<string> {
    this.http = createServer((_request, response) => response.writeHead(404).end());
    this.http.on('upgrade', (request, socket, head) => {
      if (request.headers.authorization !== `Bearer ${this.token}`) {
        const body = JSON.stringify({ error: { code: 'unauthorized', message: 'bad token' } });
        socket.end(
          `HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
        );
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws));
    });
    await new Promise<void>((resolve) => this.http!.listen(0, '127.0.0.1', resolve));
    const { port } = this.http.address() as AddressInfo;
    return `ws://127.0.0.1:${port}/api/sessions/s1/ingest`;
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.http?.close(() => resolve()));
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
        reject(new Error('timed out waiting for the fake ingest server'));
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

  private accept(ws: WebSocket): void {
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
    this.committed.push(...events.slice(skip));
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
}

function error(code: string, message: string, fatal: boolean, expectedProducerSeq?: number) {
  return JSON.stringify({ type: 'error', code, message, fatal, expectedProducerSeq });
}
