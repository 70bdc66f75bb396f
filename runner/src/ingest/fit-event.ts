import { capToolOutput, type IngestEvent, jsonByteLength, MAX_EVENT_BYTES } from '@kiln/protocol';

/**
 * Makes a recorded event fit MAX_EVENT_BYTES (256 KiB): a tool call whose input is larger (a Write
 * of a big file) gets its input cut like a tool output (`capToolOutput`: the JSON text, 32 KiB).
 * Other events are returned as they are; the producer refuses any still over the limit.
 */
export function fitEvent(event: IngestEvent): IngestEvent {
  if (event.type !== 'tool-input-available' || jsonByteLength(event) <= MAX_EVENT_BYTES)
    return event;
  return { ...event, input: capToolOutput(event.input).output };
}
