/**
 * What a bench subscriber saw: messages, bytes, the highest event index, duplicates, and (for
 * sampled subscribers) the latency of every event. Events carry a marker `~<index>:<ms>~` in
 * their text (stamped by the producer when it sends), so the same probe reads Kiln frames, relay
 * frames, Durable Streams SSE data and Agents SDK chunks without parsing each protocol.
 */
export const now = () => performance.timeOrigin + performance.now();

/** A text-delta body whose delta carries the marker; ~40 bytes, a typical streamed token run. */
export function markedDelta(index: number): string {
  return `~${index}:${now().toFixed(2)}~ lorem ipsum dolor sit `;
}

const MARKER = /~(\d+):(\d+(?:\.\d+)?)~/g;
const TILDE = 0x7e;

export class Probe {
  messages = 0;
  bytes = 0;
  /** Highest marker index seen (-1: none). */
  last = -1;
  duplicates = 0;
  private seen: Uint8Array | null;
  waiters: { index: number; resolve: () => void }[] = [];

  /** `sampled`: parse every marker (latency, duplicates); otherwise only the last of a message. */
  constructor(
    private readonly sampled: boolean,
    private readonly latencies: number[] | null = null,
    capacity = 0,
  ) {
    this.seen = sampled ? new Uint8Array(capacity) : null;
  }

  /** Count a message without looking for markers (protocol frames such as ready, presence). */
  countOnly(bytes: number): void {
    this.messages++;
    this.bytes += bytes;
  }

  feed(data: Buffer | string, bytes = typeof data === 'string' ? data.length : data.length): void {
    this.messages++;
    this.bytes += bytes;
    if (this.sampled) {
      const received = now();
      const text = typeof data === 'string' ? data : data.toString('utf8');
      for (const m of text.matchAll(MARKER)) {
        const index = Number(m[1]);
        this.mark(index);
        this.latencies?.push(received - Number(m[2]));
      }
    } else {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      const end = buf.lastIndexOf(TILDE);
      if (end <= 0) return;
      const start = buf.lastIndexOf(TILDE, end - 1);
      if (start < 0) return;
      const index = Number.parseInt(buf.toString('latin1', start + 1, end), 10);
      if (Number.isFinite(index) && index > this.last) this.last = index;
    }
    this.wake();
  }

  private mark(index: number): void {
    const seen = this.seen!;
    if (index < seen.length) {
      if (seen[index]) this.duplicates++;
      seen[index] = 1;
    }
    if (index > this.last) this.last = index;
  }

  /** Distinct events seen with an index below `index` (sampled probes only). */
  seenBelow(index: number): number {
    let n = 0;
    for (let i = 0; i < Math.min(index, this.seen?.length ?? 0); i++) n += this.seen![i]!;
    return n;
  }

  /** Distinct events seen (sampled probes only). */
  distinct(): number {
    return this.seen ? this.seen.reduce((n, v) => n + v, 0) : this.last + 1;
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => this.last >= w.index);
    this.waiters = this.waiters.filter((w) => this.last < w.index);
    for (const w of ready) w.resolve();
  }

  /** Resolves once the event `index` (or a later one) arrived; rejects after `timeoutMs`. */
  until(index: number, timeoutMs: number): Promise<void> {
    if (this.last >= index) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out at event ${this.last} waiting for ${index}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ index, resolve: done });
    });
  }
}

/** The p-th percentile (0–100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (values: readonly number[]) => percentile(values, 50);

/** Sends `count` items at `rate` per second (0: as fast as the loop allows, yielding each 200). */
export async function paced(
  count: number,
  rate: number,
  send: (index: number) => void,
): Promise<void> {
  const started = now();
  for (let i = 0; i < count; i++) {
    if (rate > 0) {
      const wait = started + (i * 1000) / rate - now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    } else if (i % 200 === 0) {
      await new Promise((r) => setImmediate(r));
    }
    send(i);
  }
}
