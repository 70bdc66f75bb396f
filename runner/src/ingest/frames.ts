import { MAX_EVENTS_PER_FRAME, MAX_FRAME_BYTES } from '@kiln/protocol';

/** An appended event waiting for its ack, serialised once. */
export interface PendingEvent {
  /** Producer seq: 1, 2, 3 … */
  seq: number;
  /** JSON of the event body. */
  json: string;
  /** UTF-8 bytes of `json`. */
  bytes: number;
}

/** Bytes of an `events` frame around its events, with room for the largest seq number. */
const FRAME_OVERHEAD_BYTES = '{"type":"events","firstProducerSeq":9007199254740991,"events":[]}'
  .length;

/**
 * How many of `pending[start…]` go into the next `events` frame: at most `maxEvents` and fewer than
 * `maxBytes` bytes of frame, but always at least one (a single event is at most MAX_EVENT_BYTES,
 * far below the frame limit).
 */
export function frameSize(
  pending: readonly PendingEvent[],
  start: number,
  maxEvents = MAX_EVENTS_PER_FRAME,
  maxBytes = MAX_FRAME_BYTES,
): number {
  let bytes = FRAME_OVERHEAD_BYTES;
  let count = 0;
  while (start + count < pending.length && count < maxEvents) {
    const next = bytes + pending[start + count]!.bytes + (count > 0 ? 1 : 0);
    if (count > 0 && next >= maxBytes) break;
    bytes = next;
    count++;
  }
  return count;
}

/** The text of an `events` frame (`IngestFrame`), built from already-serialised events. */
export function eventsFrameText(events: readonly PendingEvent[]): string {
  const first = events[0]!.seq;
  return `{"type":"events","firstProducerSeq":${first},"events":[${events.map((e) => e.json).join(',')}]}`;
}
