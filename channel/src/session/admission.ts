import {
  type ErrorCode,
  jsonByteLength,
  MAX_EVENT_BYTES,
  type RunnerEventBody,
  resumeId,
  type SessionState,
  TOOL_OUTPUT_LIMIT_BYTES,
} from '@kiln/protocol';
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

/**
 * Refuses a batch that breaks a per-event rule; nothing of the frame is stored then. `holder` is
 * the build's lease holder: only a runner's build (`runner:<id>`) may write a `checkpoint`, whose
 * `resumeId` (if any) must have the protocol's format, since the next build hands it to a CLI.
 */
export function checkEvents(
  events: readonly RunnerEventBody[],
  buildId: string,
  holder: string,
): { code: ErrorCode; message: string } | undefined {
  for (const event of events) {
    if (event.type === 'checkpoint') {
      if (!holder.startsWith('runner:')) {
        return { code: 'forbidden', message: 'only a runner may write checkpoints' };
      }
      const state: unknown = event.state;
      if (
        typeof state === 'object' &&
        state !== null &&
        'resumeId' in state &&
        !resumeId.safeParse(state.resumeId).success
      ) {
        return {
          code: 'bad-frame',
          message: 'a checkpoint resumeId must match the resume id format',
        };
      }
    }
    if (jsonByteLength(event) > MAX_EVENT_BYTES) {
      return {
        code: 'event-too-large',
        message: `a ${event.type} event is over ${MAX_EVENT_BYTES} bytes`,
      };
    }
    if (
      event.type === 'tool-output-available' &&
      jsonByteLength(event.output) > TOOL_OUTPUT_LIMIT_BYTES
    ) {
      return {
        code: 'event-too-large',
        message: `tool output over ${TOOL_OUTPUT_LIMIT_BYTES} bytes must be cut and marked truncated`,
      };
    }
    if (event.type === 'turn-started' && event.buildId !== buildId) {
      return {
        code: 'bad-frame',
        message: `turn-started names build ${event.buildId}, not ${buildId}`,
      };
    }
  }
  return undefined;
}

/**
 * Drops a `turn-finished` for a turn that is not running (already ended by the session, e.g. on
 * an interrupt deadline), so no path finishes a turn twice. Looks at turns started earlier in the
 * same batch too.
 */
export function dropLateTurnEnds<T extends { body: RunnerEventBody }>(
  state: SessionState,
  events: T[],
): T[] {
  const running = new Set(state.turns.filter((t) => t.status === 'running').map((t) => t.turnId));
  return events.filter(({ body }) => {
    if (body.type === 'turn-started') running.add(body.turnId);
    if (body.type !== 'turn-finished') return true;
    return running.delete(body.turnId);
  });
}
