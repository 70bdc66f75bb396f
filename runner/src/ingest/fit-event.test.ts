import { jsonByteLength, MAX_EVENT_BYTES, TOOL_OUTPUT_LIMIT_BYTES } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { fitEvent } from './fit-event';

describe('fitEvent', () => {
  it('cuts a tool input over MAX_EVENT_BYTES to the tool output cap', () => {
    const event = {
      type: 'tool-input-available' as const,
      toolCallId: 't',
      toolName: 'Write',
      input: { content: 'x'.repeat(MAX_EVENT_BYTES) },
    };
    const fitted = fitEvent(event);
    expect(jsonByteLength(fitted)).toBeLessThan(MAX_EVENT_BYTES);
    expect(typeof fitted.type === 'string' && 'input' in fitted && typeof fitted.input).toBe(
      'string',
    );
    expect(jsonByteLength('input' in fitted ? fitted.input : null)).toBeLessThanOrEqual(
      TOOL_OUTPUT_LIMIT_BYTES,
    );
  });

  it('leaves an event under the limit untouched', () => {
    const event = { type: 'text-delta' as const, messageId: 'm', delta: 'hi' };
    expect(fitEvent(event)).toBe(event);
  });
});
