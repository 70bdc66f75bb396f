import { randomUUID } from 'node:crypto';
import { type ResumeServerFrame, ResumingSubscriber } from '@kiln/protocol';
import WebSocket from 'ws';
import { IngestProducer } from '../../../runner/src/ingest/producer';
import { markedDelta, now, type Probe, paced } from '../probe';
import type { BenchStack } from '../stack';
import type { Channel, System } from './types';

const wsUrl = (server: string, path: string) => server.replace(/^http/, 'ws') + path;

/** Leases a build through the public route, as `kiln replay` does. */
export async function leaseBuild(stack: BenchStack, sessionId: string) {
  const res = await fetch(
    `${stack.server}/api/projects/${stack.config.projectId}/sessions/${sessionId}/builds`,
    {
      method: 'POST',
      headers: {
        authorization: `Bearer ${stack.config.token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ agent: 'replay', model: 'bench' }),
    },
  );
  if (!res.ok) throw new Error(`lease: ${res.status} ${await res.text()}`);
  return (await res.json()) as { buildId: string; ingestPath: string };
}

export async function apiJson<T>(stack: BenchStack, path: string): Promise<T> {
  const res = await fetch(`${stack.server}${path}`, {
    headers: { authorization: `Bearer ${stack.config.token}` },
  });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Opens a socket with the bearer token; `onMessage` is attached before open. */
export function openWs(
  url: string,
  token: string | undefined,
  onMessage: (data: Buffer, ws: WebSocket) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      perMessageDeflate: false,
    });
    ws.on('message', (data: Buffer) => onMessage(data, ws));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`${url}: HTTP ${res.statusCode}`)),
    );
  });
}

/** A Kiln session: producer on the ingest socket, subscribers on /ws with `hello {lastSeq}`. */
export class KilnChannel implements Channel {
  readonly sessionId = randomUUID();
  headSeq = 0;
  private lease: Promise<{ buildId: string; ingestPath: string }>;
  private subscribers = 0;
  /** `viewers`: one token per subscriber (bench/src/viewers.ts); empty = the owner's token. */
  constructor(
    private readonly stack: BenchStack,
    private readonly viewers: readonly string[] = [],
  ) {
    // The lease creates the session, so subscribers can connect before the first event.
    this.lease = leaseBuild(stack, this.sessionId);
  }

  ready() {
    return this.lease;
  }

  async produce(count: number, rate: number) {
    const lease = await this.lease;
    const producer = new IngestProducer({
      url: wsUrl(this.stack.server, lease.ingestPath),
      token: this.stack.config.token,
      buildId: lease.buildId,
    });
    const started = now();
    try {
      // Two interleaved messages, so the SessionDO's delta coalescing cannot merge events: one
      // produced event is one stored, sequenced event, as with the peers (none of them coalesce).
      producer.append([
        { type: 'message-start', messageId: 'm0', role: 'assistant' },
        { type: 'message-start', messageId: 'm1', role: 'assistant' },
      ]);
      await paced(count, rate, (i) =>
        producer.append([{ type: 'text-delta', messageId: `m${i % 2}`, delta: markedDelta(i) }]),
      );
      await producer.flush();
    } finally {
      producer.close();
    }
    const ms = now() - started;
    this.headSeq = (await apiJson<{ headSeq: number }>(this.stack, this.health())).headSeq;
    return { ms, events: count };
  }

  /**
   * Resume with `hello {lastSeq: head - missed}` through the shared `ResumingSubscriber`, over a
   * seq-only state (the reducer's cost is not what this measures); a snapshot counts as one message.
   */
  async resume(missed: number) {
    const lastSeq = Math.max(0, this.headSeq - missed);
    const subscriber = new ResumingSubscriber<{ seq: number }, { headSeq: number }>(
      { headSeq: lastSeq },
      (_state, event) => ({ headSeq: event.seq }),
    );
    let received = 0;
    let how = 'events';
    const started = now();
    let caughtUp: () => void = () => {};
    const done = new Promise<void>((r) => (caughtUp = r));
    const ws = await openWs(
      wsUrl(this.stack.server, `/api/sessions/${this.sessionId}/ws`),
      this.stack.config.token,
      (data, socket) => {
        // Not validated: the bench times the wire and the resume, as it does for the peers.
        const frame = JSON.parse(data.toString()) as ResumeServerFrame<
          { seq: number },
          { headSeq: number }
        >;
        if (frame.type === 'snapshot') {
          how = 'snapshot';
          received++;
        }
        if (frame.type === 'events') received += frame.events.length;
        for (const out of subscriber.receive(frame).send) socket.send(JSON.stringify(out));
        if (subscriber.state.headSeq >= this.headSeq) caughtUp();
      },
    );
    const timer = setTimeout(caughtUp, 120_000);
    await done;
    clearTimeout(timer);
    const ms = now() - started;
    ws.terminate();
    const head = subscriber.state.headSeq;
    if (head < this.headSeq) throw new Error(`kiln resume stopped at ${head} of ${this.headSeq}`);
    return { ms, received, duplicates: subscriber.duplicates, how };
  }

  /** Cold open: the first `GET /state` after a restart loads the object (snapshot + tail). */
  async hydrate() {
    const started = now();
    const state = await apiJson<{ headSeq: number }>(
      this.stack,
      `/api/sessions/${this.sessionId}/state`,
    );
    if (state.headSeq !== this.headSeq) throw new Error('hydrated a different head');
    return now() - started;
  }

  health() {
    return `/api/sessions/${this.sessionId}/health`;
  }

  async subscribe(probe: Probe, missed = 0) {
    const head = missed > 0 ? this.headSeq : 0;
    const lastSeq = missed > 0 ? Math.max(0, head - missed) : 0;
    let sawReady = false;
    let subscribed: () => void = () => {};
    const ready = new Promise<void>((resolve) => (subscribed = resolve));
    // Each subscriber is another person, as an audience is (MAX_SOCKETS_PER_PRINCIPAL).
    const token = this.viewers[this.subscribers++ % this.viewers.length] ?? this.stack.config.token;
    const ws = await openWs(
      wsUrl(this.stack.server, `/api/sessions/${this.sessionId}/ws`),
      token,
      (data, socket) => {
        if (!sawReady) {
          sawReady = true;
          probe.countOnly(data.length);
          socket.send(JSON.stringify({ type: 'hello', lastSeq }));
          // Answered by the object after the hello (not by auto-response): a barrier.
          socket.send('{ "type": "ping" }');
          return;
        }
        if (data.length < 40 && data.includes('"pong"')) {
          probe.countOnly(data.length);
          subscribed();
          return;
        }
        probe.feed(data);
      },
    );
    await ready;
    return { close: () => ws.terminate() };
  }
}

export class KilnSystem implements System {
  name = 'kiln';
  /** `viewers`: the audience's tokens, one per subscriber of a channel (bench/src/viewers.ts). */
  constructor(
    readonly stack: BenchStack,
    private readonly viewers: readonly string[] = [],
  ) {}
  async open() {
    const channel = new KilnChannel(this.stack, this.viewers);
    await channel.ready();
    return channel;
  }
  rss() {
    return this.stack.workerdRss();
  }
  async stop() {}
}

/** The raw relay DO in the same workerd, driven by the same producer client. */
export class RelaySystem implements System {
  name = 'raw relay';
  constructor(readonly stack: BenchStack) {}
  async open(): Promise<Channel> {
    const room = randomUUID();
    const base = wsUrl(this.stack.server, `/__bench/relay/${room}`);
    return {
      produce: async (count, rate) => {
        const producer = new IngestProducer({
          url: `${base}?role=producer`,
          token: 'unused',
          buildId: room,
        });
        const started = now();
        try {
          await paced(count, rate, (i) =>
            producer.append([{ type: 'text-delta', messageId: 'm1', delta: markedDelta(i) }]),
          );
          await producer.flush();
        } finally {
          producer.close();
        }
        return { ms: now() - started, events: count };
      },
      subscribe: async (probe, missed = 0) => {
        if (missed > 0) throw new Error('the relay keeps no history');
        const ws = await openWs(`${base}?role=sub`, undefined, (data) => probe.feed(data));
        return { close: () => ws.terminate() };
      },
    };
  }
  rss() {
    return this.stack.workerdRss();
  }
  async stop() {}
}
