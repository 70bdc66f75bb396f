import { describe, expect, it } from 'vitest';
import { detectFormat } from './detect-format';
import { readFixture, readSample } from './fixtures';
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

  it.each([
    ['codex-rollout/fixtures/rollout-real-exec.jsonl', 'codex-rollout'],
    ['codex-rollout/fixtures/rollout-vscode-tools.jsonl', 'codex-rollout'],
    ['openhands/fixtures/basic_interactions.json', 'openhands'],
    ['openhands/fixtures/basic-trimmed.json', 'openhands'],
  ] as const)('names the sample %s as %s', (path, format) => {
    expect(detectFormat(readSample(new URL(path, import.meta.url)))).toBe(format);
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

  it('reads a file that is one JSON array as one line per element, zone-less times as UTC', () => {
    const recording = parseRecording('[{"timestamp":"2025-02-01T00:14:10.787622"},{"id":2}]');
    expect(recording.lines).toEqual([
      {
        lineNumber: 1,
        value: { timestamp: '2025-02-01T00:14:10.787622' },
        at: Date.UTC(2025, 1, 1, 0, 14, 10, 787),
      },
      { lineNumber: 2, value: { id: 2 } },
    ]);
  });
});
