import type { RunnerEventBody } from '@kiln/protocol';
import type { ProducedEvent } from './coalesce';

/**
 * What to do with a runner `events` frame, given the highest producer seq already durable for its
 * build (Durable Streams' idempotent producer rules):
 * - every event at or below `ackedProducerSeq` is a duplicate: dropped, and acknowledged again;
 * - a frame starting past `ackedProducerSeq + 1` leaves a gap: refused, naming the expected seq;
 * - otherwise the new tail of the frame is appended.
 */
export type Admission =
  | { kind: 'append'; events: ProducedEvent[] }
  | { kind: 'duplicate'; ackedProducerSeq: number }
  | { kind: 'gap'; expectedProducerSeq: number };

export function admitFrame(
  ackedProducerSeq: number,
  firstProducerSeq: number,
  events: readonly RunnerEventBody[],
): Admission {
  if (firstProducerSeq > ackedProducerSeq + 1) {
    return { kind: 'gap', expectedProducerSeq: ackedProducerSeq + 1 };
  }
  const skip = ackedProducerSeq + 1 - firstProducerSeq;
  if (skip >= events.length) return { kind: 'duplicate', ackedProducerSeq };
  return {
    kind: 'append',
    events: events.slice(skip).map((body, i) => ({ body, producerSeq: ackedProducerSeq + 1 + i })),
  };
}
