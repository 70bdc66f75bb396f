import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ackFrame,
  errorFrame,
  eventFrames,
  type IngestAttachment,
  MemorySessionStore,
  type Peer,
  planCatchUp,
  type RoomEffect,
  SessionRoom,
  TokenBucket,
  toProducer,
} from '@kiln/channel';
import {
  applyEvents,
  clientFrame,
  createSessionState,
  type ErrorCode,
  INTERRUPT_GRACE_MS,
  type IngestFrame,
  LEASE_GRACE_MS,
  LEASE_MS,
  MAX_BAD_FRAMES,
  MAX_CLIENT_FRAMES_PER_SECOND,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  parseFrame,
  REPLAY_LIMIT,
  REPLAY_ROUND_EVENTS,
  type RunnerEventBody,
  type SessionEvent,
  STUCK_SESSION_MS,
} from '@kiln/protocol';
import { type WebSocket, WebSocketServer } from 'ws';

/** The one build the fake leases, and who holds it (every ingest socket connects as it). */
const BUILD_ID = 'build-1';
const HOLDER = 'runner:fake';

/**
 * A minimal Kiln server for tests, on a free localhost port with real sockets: the build lease
 * (`POST /api/projects/:p/sessions/:s/builds`), the ingest socket run by the SessionDO's own
 * `SessionRoom` over a `MemorySessionStore` (the same admission, fencing and refusals: duplicates
 * re-acked, gaps refused with the expected seq, lower epochs and older connections fenced, frame
 * size and bad-frame limits), and the subscriber socket catching up from `hello.lastSeq` by the
 * SessionDO's plan (`planCatchUp`: rounds of `REPLAY_ROUND_EVENTS`, a snapshot past
 * `REPLAY_LIMIT`, `ahead-of-head`) under the same frame rate and bad-frame limits.
 * `fake-kiln-server.conformance.test.ts` holds it to PROTOCOL.md; what it leaves out (subscribers
 * see `committed`, one entry per producer seq, so no delta coalescing and no dropped late turn
 * ends; `send`, `interrupt`, `ack`; lease timers) is declared there.
 * Knobs lose frames, kill sockets, hold acks and skip a seq, to exercise the clients' recovery.
 */
export class FakeKilnServer extends EventEmitter {
  /** Events acked, in producer-seq order: index i holds producer seq i + 1 (and session seq i + 1). */
  private readonly admitted: RunnerEventBody[] = [];
  /** Every `events` frame received, as parsed. */
  readonly frames: { firstProducerSeq: number; events: RunnerEventBody[]; bytes: number }[] = [];
  /** Frames that failed the protocol's `ingestFrame` schema. */
  readonly badFrames: string[] = [];
  /** Leases handed out, as `projectId/sessionId`. */
  readonly leases: string[] = [];
  token = 'secret-token';
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
  private readonly ingest = new Map<Peer, IngestAttachment>();
  private readonly store = new MemorySessionStore();
  private readonly room = new SessionRoom<Peer, IngestAttachment>({
    store: this.store,
    timing: {
      leaseMs: LEASE_MS,
      graceMs: LEASE_GRACE_MS,
      interruptGraceMs: INTERRUPT_GRACE_MS,
      stuckMs: STUCK_SESSION_MS,
    },
    newBuildId: () => BUILD_ID,
    sockets: {
      all: () => this.ingest.keys(),
      attachment: (ws) => this.ingest.get(ws)!,
      setAttachment: (ws, attachment) => this.ingest.set(ws, attachment),
      lastPingAt: () => undefined,
    },
  });

  constructor() {
    super();
    this.room.init('s1', 'p1');
    // Its effects are an alarm for the lease check, which the fake never runs.
    this.room.leaseBuild(HOLDER, 'demo', 'demo-model');
  }

  /** Events committed so far (a copy; use `seed` to pretend an earlier producer sent some). */
  get committed(): readonly RunnerEventBody[] {
    return [...this.admitted];
  }

  get acked(): number {
    return this.admitted.length;
  }

  /** The build's producer epoch as the room holds it: a producer below it is fenced. */
  get epoch(): number {
    return this.build().epoch;
  }

  set epoch(epoch: number) {
    this.store.putBuild({ ...this.build(), epoch });
  }

  /** Commits `events` as a previous producer process (epoch 0) would have, before the test. */
  seed(events: readonly RunnerEventBody[]): void {
    const previous: Peer = { send: () => {}, close: () => {} };
    this.ingest.set(previous, { role: 'ingest', principal: HOLDER, badFrames: 0 });
    this.room.onIngestFrame(previous, { type: 'hello', buildId: BUILD_ID, producerEpoch: 0 });
    const frame: IngestFrame = {
      type: 'events',
      firstProducerSeq: this.acked + 1,
      events: [...events],
    };
    this.admit(frame, this.room.onIngestFrame(previous, frame).effects);
    this.ingest.delete(previous);
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
    this.deferred?.send(toProducer(ackFrame(this.acked)));
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
    return this.admitted
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
    this.ingest.set(ws, { role: 'ingest', principal: HOLDER, badFrames: 0 });
    ws.on('close', () => this.ingest.delete(ws));
    ws.on('message', (data) => {
      // Frames already buffered when a socket was killed are lost with it, as on a real drop.
      if (ws.readyState !== ws.OPEN) return;
      const text = data.toString();
      const read = this.room.readIngest(ws, text);
      const frame = read.value;
      if (!frame) {
        for (const effect of read.effects) {
          if (effect.kind === 'send' && effect.frame.type === 'error') {
            this.badFrames.push(effect.frame.message);
          }
        }
        this.apply(read.effects);
      } else if (frame.type === 'events') {
        this.onEvents(ws, frame, Buffer.byteLength(text));
      } else {
        if (frame.type === 'ping') this.pings++;
        this.apply(this.room.onIngestFrame(ws, frame).effects);
      }
      this.emit('frame');
    });
  }

  private onEvents(ws: WebSocket, frame: Extract<IngestFrame, { type: 'events' }>, bytes: number) {
    const index = this.frames.length;
    const { firstProducerSeq, events } = frame;
    this.frames.push({ firstProducerSeq, events, bytes });
    if (this.dropFrames.has(index)) return;
    if (this.rateLimitFrames.delete(index)) {
      this.rateLimited++;
      ws.send(toProducer(errorFrame('rate-limited', 'slow down', false, this.acked + 1)));
      return;
    }
    const before = this.acked;
    const effects = this.admit(frame, this.room.onIngestFrame(ws, frame).effects);
    const ack = effects.find((e) => e.kind === 'send' && e.frame.type === 'ack');
    if (!ack) {
      this.apply(effects);
      return;
    }
    if (this.acked === before) {
      this.duplicateFrames++;
      this.apply(effects);
      return;
    }
    const rest = effects.filter((e) => e !== ack);
    this.apply(rest);
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
    this.apply([ack]);
  }

  /**
   * Records what the room's ack says is now durable (the frame's events up to the acked producer
   * seq, as sent: the room merges deltas in its log, the fake's subscribers see them unmerged),
   * and passes the new events to the subscribers. Returns the effects.
   */
  private admit(
    frame: Extract<IngestFrame, { type: 'events' }>,
    effects: RoomEffect<Peer>[],
  ): RoomEffect<Peer>[] {
    for (const effect of effects) {
      if (effect.kind !== 'send') continue;
      if (effect.frame.type === 'error' && effect.frame.code === 'producer-gap') this.gapErrors++;
      if (effect.frame.type !== 'ack' || effect.frame.producerSeq <= this.acked) continue;
      const from = this.acked + 1;
      const skip = from - frame.firstProducerSeq;
      this.admitted.push(
        ...frame.events.slice(skip, effect.frame.producerSeq - frame.firstProducerSeq + 1),
      );
      this.broadcast(from);
    }
    return effects;
  }

  /** Sends and closes as the room decided (its alarms and fan-out are not used here). */
  private apply(effects: readonly RoomEffect<Peer>[]): void {
    for (const effect of effects) {
      if (effect.kind === 'send') effect.socket.send(toProducer(effect.frame));
      else if (effect.kind === 'close') effect.socket.close(effect.code, effect.reason);
    }
  }

  private build() {
    const build = this.store.getBuild(BUILD_ID);
    if (!build) throw new Error('the fake lost its build');
    return build;
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
    const refuse = refuser(ws);
    const bucket = new TokenBucket(
      MAX_CLIENT_FRAMES_PER_SECOND,
      MAX_CLIENT_FRAMES_PER_SECOND * 2,
      Date.now(),
    );
    ws.on('close', () => this.subscribers.delete(ws));
    ws.on('message', (data) => {
      if (ws.readyState !== ws.OPEN) return;
      const text = data.toString();
      if (Buffer.byteLength(text) > MAX_FRAME_BYTES) {
        refuse('frame-too-large', `frames are limited to ${MAX_FRAME_BYTES} bytes`);
        return;
      }
      if (!bucket.take(1, Date.now())) {
        refuse('rate-limited', `at most ${MAX_CLIENT_FRAMES_PER_SECOND} frames per second`);
        return;
      }
      const parsed = parseFrame(clientFrame, text);
      if (!parsed.ok) {
        this.badFrames.push(parsed.message);
        refuse('bad-frame', parsed.message);
        return;
      }
      if (parsed.frame.type === 'ping') ws.send('{"type":"pong"}');
      if (parsed.frame.type !== 'hello') return;
      this.hellos.push(parsed.frame.lastSeq);
      this.subscribers.add(ws);
      this.catchUp(ws, parsed.frame.lastSeq);
      this.emit('frame');
    });
  }

  /** Sends what a subscriber at `lastSeq` lacks, by the SessionDO's plan (PROTOCOL.md §2). */
  private catchUp(ws: WebSocket, lastSeq: number): void {
    const plan = planCatchUp(lastSeq, this.acked, REPLAY_LIMIT);
    switch (plan.kind) {
      case 'none':
        return;
      case 'ahead':
        ws.send(error('ahead-of-head', `lastSeq ${lastSeq} is past head ${this.acked}`, false));
        this.sendSnapshot(ws);
        return;
      case 'snapshot':
        this.sendSnapshot(ws);
        return;
      case 'events': {
        let events = this.sessionEvents(plan.after + 1);
        if (this.skipOnceInReplay && events.length > 2) {
          this.skipOnceInReplay = false;
          events = [events[0]!, ...events.slice(2)];
        }
        for (const frame of eventFrames(events, REPLAY_ROUND_EVENTS)) ws.send(frame);
        return;
      }
    }
  }

  /** The state at head, from the protocol's reducer over the committed events. */
  private sendSnapshot(ws: WebSocket): void {
    const state = applyEvents(createSessionState('s1', 'p1'), this.sessionEvents(1));
    ws.send(JSON.stringify({ type: 'snapshot', seq: state.headSeq, state }));
  }

  private broadcast(from: number): void {
    const frames = eventFrames(this.sessionEvents(from));
    for (const ws of this.subscribers) for (const frame of frames) ws.send(frame);
  }
}

type Refuse = (code: ErrorCode, message: string) => void;

/**
 * A socket's refusal of bad frames, as the SessionDO's: an `error` frame, and the
 * `MAX_BAD_FRAMES + 1`th refusal fatal, closing the socket with 1008.
 */
function refuser(ws: WebSocket): Refuse {
  let refused = 0;
  return (code, message) => {
    refused++;
    if (refused > MAX_BAD_FRAMES) {
      fatal(ws, code, `${message}; too many bad frames`);
      return;
    }
    ws.send(error(code, message, false));
  };
}

function fatal(ws: WebSocket, code: ErrorCode, message: string): void {
  ws.send(error(code, message, true));
  ws.close(1008, code);
}

function error(code: ErrorCode, message: string, fatal: boolean, expectedProducerSeq?: number) {
  return JSON.stringify({ type: 'error', code, message, fatal, expectedProducerSeq });
}
