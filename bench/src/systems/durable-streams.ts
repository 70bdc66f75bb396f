import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DurableStream, IdempotentProducer, stream } from '@durable-streams/client';
import { freePort, ROOT } from '../../../scripts/dev-stack.ts';
import { type ManagedProcess, startTsx } from '../../../scripts/processes.ts';
import { markedDelta, now, Probe, paced } from '../probe';
import { rssBytes } from '../stack';
import type { Channel, System } from './types';

/** The Durable Streams reference server in its own Node process; SSE subscribers. */
export class DurableStreamsSystem implements System {
  name = 'durable streams';
  private child: ManagedProcess | null = null;
  url = '';
  private constructor(private readonly dataDir: string) {}

  static async start(dataDir: string): Promise<DurableStreamsSystem> {
    const system = new DurableStreamsSystem(dataDir);
    await system.launch(await freePort());
    return system;
  }

  private async launch(port: number): Promise<void> {
    const child = startTsx(
      join(ROOT, 'bench', 'src', 'systems', 'ds-server.ts'),
      [String(port), this.dataDir],
      { cwd: join(ROOT, 'bench') },
    );
    this.child = child;
    // ds-server.ts prints its URL once it listens.
    this.url = await child.waitForOutput(/^http:\/\/\S+$/m, 30_000);
  }

  /** Stops the server and starts it again on the same port and data dir. */
  async restart(): Promise<void> {
    const port = Number(new URL(this.url).port);
    await this.stop();
    await this.launch(port);
  }

  async open(): Promise<Channel> {
    const url = `${this.url}/bench/${randomUUID()}`;
    const handle = await DurableStream.create({ url, contentType: 'application/json' });
    /** Offsets after each item count, recorded by produce() for resume (offsets are opaque). */
    const offsets: { count: number; offset: string }[] = [];
    let total = 0;
    return {
      produce: async (count, rate) => {
        const errors: unknown[] = [];
        const producer = new IdempotentProducer(handle, `bench-${randomUUID()}`, {
          autoClaim: true,
          onError: (e) => errors.push(e),
        });
        const started = now();
        await paced(count, rate, (i) =>
          producer.append(
            JSON.stringify({ type: 'text-delta', messageId: 'm1', delta: markedDelta(i) }),
          ),
        );
        await producer.flush();
        const ms = now() - started;
        await producer.close();
        if (errors.length > 0) throw new Error(`durable streams producer: ${String(errors[0])}`);
        total += count;
        return { ms, events: count };
      },
      resume: async (missed) => {
        const probe = new Probe(true, null, total);
        const started = now();
        const sub = await subscribeFrom(probe, missed);
        await probe.until(total - 1, 120_000);
        const ms = now() - started;
        sub.close();
        const had = offsets.filter((o) => o.count <= total - missed).at(-1)?.count ?? 0;
        return {
          ms,
          received: probe.distinct(),
          duplicates: probe.duplicates + probe.seenBelow(had),
          how: 'SSE from offset',
        };
      },
      hydrate: async () => {
        const started = now();
        const res = await stream({ url, live: false });
        const items = await res.json();
        if (items.length !== total) throw new Error(`read ${items.length} of ${total}`);
        return now() - started;
      },
      subscribe: (probe, missed = 0) => subscribeFrom(probe, missed),
    };
    async function subscribeFrom(probe: Probe, missed: number) {
      {
        let offset: string | undefined;
        if (missed > 0) {
          // Find the offset just before the last `missed` items by reading the stream once.
          if (offsets.length === 0) {
            const res = await stream({ url, live: false });
            let seen = 0;
            await new Promise<void>((resolve) => {
              res.subscribeJson(async (batch) => {
                seen += batch.items.length;
                offsets.push({ count: seen, offset: batch.offset });
                if (batch.upToDate) resolve();
              });
            });
          }
          const want = total - missed;
          offset = offsets.filter((o) => o.count <= want).at(-1)?.offset;
        }
        const controller = new AbortController();
        const res = await stream({
          url,
          live: 'sse',
          signal: controller.signal,
          ...(offset ? { offset } : {}),
        });
        res.subscribeText(async (chunk) => probe.feed(chunk.text));
        return { close: () => controller.abort() };
      }
    }
  }

  rss() {
    return this.child?.pid && this.child.running() ? rssBytes(this.child.pid) : 0;
  }

  async stop() {
    await this.child?.stop();
  }
}
