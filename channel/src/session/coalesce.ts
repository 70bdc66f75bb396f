import type { RunnerEventBody } from '@kiln/protocol';

/** An event body with the producer seq it arrived under (the last one, once merged). */
export interface ProducedEvent {
  body: RunnerEventBody;
  producerSeq: number;
}

/**
 * Merges consecutive `text-delta` (or `reasoning-delta`) events of the same message into one,
 * before seqs are assigned, so the stored log and every client see the same events (DESIGN §4).
 * The merged event carries the producer seq of the last delta it absorbed, so acknowledging it
 * acknowledges them all. Order is otherwise untouched. Pure.
 */
export function coalesceDeltas(events: readonly ProducedEvent[]): ProducedEvent[] {
  const out: ProducedEvent[] = [];
  for (const event of events) {
    const last = out[out.length - 1];
    const body = event.body;
    if (
      last &&
      (body.type === 'text-delta' || body.type === 'reasoning-delta') &&
      last.body.type === body.type &&
      last.body.messageId === body.messageId
    ) {
      out[out.length - 1] = {
        body: { ...body, delta: last.body.delta + body.delta },
        producerSeq: event.producerSeq,
      };
    } else {
      out.push(event);
    }
  }
  return out;
}
