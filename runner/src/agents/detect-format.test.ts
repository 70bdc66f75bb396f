import { describe, expect, it } from 'vitest';
import { detectFormat } from './detect-format';
import { readFixture } from './fixtures';
import { parseRecording } from './recording';

describe('detectFormat', () => {
  it.each([
    ['claude-code-stream-json.jsonl', 'claude-code'],
    ['claude-code-transcript.jsonl', 'claude-code'],
    ['codex-exec-command.jsonl', 'codex'],
    ['codex-exec-file-change.jsonl', 'codex'],
  ] as const)('names %s as %s', (name, format) => {
    expect(detectFormat(readFixture(name))).toBe(format);
  });

  it('returns null for JSON lines of no known format', () => {
    expect(detectFormat(parseRecording('{"a":1}\n{"type":"other"}\n[1,2]\n').lines)).toBeNull();
  });
});

describe('parseRecording', () => {
  it('skips blank lines, counts broken ones and reads ISO timestamps', () => {
    const recording = parseRecording(
      '{"type":"user","timestamp":"2025-10-24T20:54:39.926Z"}\n\n{"type":"assi\n{"type":"x"}\n',
    );
    expect(recording.invalidLines).toBe(1);
    expect(recording.lines.map((l) => [l.lineNumber, l.at])).toEqual([
      [1, Date.UTC(2025, 9, 24, 20, 54, 39, 926)],
      [4, undefined],
    ]);
  });
});
