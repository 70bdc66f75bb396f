import { describe, expect, it } from 'vitest';
import { displayValue, summarizeInput } from './tool-summary';

describe('summarizeInput', () => {
  it('prefers a path, then a command, and shows a search as its pattern and where', () => {
    expect(summarizeInput({ file_path: 'src/a.ts', content: 'x' })).toBe('src/a.ts');
    expect(summarizeInput({ command: ['bash', '-lc', 'ls  -la'] })).toBe('bash -lc ls -la');
    expect(summarizeInput({ pattern: 'TODO', path: 'src' })).toBe('TODO in src');
    expect(summarizeInput({ todos: [{}, {}] })).toBe('2 todos');
  });

  it('keeps a long input to one line', () => {
    const summary = summarizeInput({ description: `line one\nline two ${'x'.repeat(300)}` });
    expect(summary).not.toContain('\n');
    expect(summary.length).toBeLessThanOrEqual(160);
    expect(summary.endsWith('…')).toBe(true);
  });
});

describe('displayValue', () => {
  it('shows strings as they are, text blocks joined, anything else as pretty JSON', () => {
    expect(displayValue('plain')).toBe('plain');
    expect(
      displayValue([
        { type: 'text', text: 'a' },
        { type: 'text', text: 'b' },
      ]),
    ).toBe('a\nb');
    expect(displayValue({ ok: true })).toBe('{\n  "ok": true\n}');
  });
});
