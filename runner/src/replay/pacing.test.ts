import type { RunnerEventBody } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { NOMINAL_PACE, paceLine, parseSpeed } from './pacing';

const text = (delta: string): RunnerEventBody => ({ type: 'text-delta', messageId: 'm', delta });
const tool: RunnerEventBody = {
  type: 'tool-input-available',
  toolCallId: 't',
  toolName: 'Bash',
  input: {},
};

function total(steps: { delayMs: number }[]) {
  return steps.reduce((sum, s) => sum + s.delayMs, 0);
}

describe('paceLine', () => {
  it('sends everything at once at max speed', () => {
    expect(paceLine([text('a'.repeat(100)), tool], 10_000, 'max')).toEqual([
      { delayMs: 0, events: [text('a'.repeat(100)), tool] },
    ]);
  });

  it('streams text in chunks at 200 characters a second without timestamps', () => {
    const long = 'word '.repeat(40); // 200 characters
    const steps = paceLine([text(long)], undefined, 1);
    expect(steps.length).toBeGreaterThan(1);
    expect(
      steps.map((s) => (s.events[0]?.type === 'text-delta' ? s.events[0].delta : '')).join(''),
    ).toBe(long);
    expect(total(steps)).toBeCloseTo(1_000, 6);
    expect(total(paceLine([text(long)], undefined, 4))).toBeCloseTo(250, 6);
  });

  it('waits the nominal pause before a tool call', () => {
    expect(paceLine([tool], undefined, 2)).toEqual([
      { delayMs: NOMINAL_PACE.toolInputMs / 2, events: [tool] },
    ]);
  });

  it('spends a timestamped gap, capped at 5 s, before the line', () => {
    expect(total(paceLine([tool], 1_500, 1))).toBe(1_500);
    expect(total(paceLine([tool], 30 * 60_000, 1))).toBe(5_000);
    expect(total(paceLine([text('x'.repeat(60))], 3_000, 3))).toBeCloseTo(1_000, 6);
  });
});

describe('parseSpeed', () => {
  it('accepts positive numbers and max, and refuses the rest', () => {
    expect(parseSpeed('2.5')).toBe(2.5);
    expect(parseSpeed('max')).toBe('max');
    expect(() => parseSpeed('0')).toThrow(RangeError);
    expect(() => parseSpeed('fast')).toThrow(RangeError);
  });
});
