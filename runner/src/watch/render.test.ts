import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ClaudeCodeMapper } from '../agents/claude-code/mapper';
import { readFixture, reduceBodies } from '../agents/fixtures';
import { mapRecording } from '../agents/mapper';
import { formatDuration, renderSession } from './render';

describe('renderSession', () => {
  const state = reduceBodies(
    mapRecording(
      new ClaudeCodeMapper({ buildId: 'b', producerId: 'r' }),
      readFixture('claude-code-stream-json.jsonl'),
    ),
  );
  const text = renderSession(state, { color: false, width: 120 });

  it('draws the todo list with ✓, ▶ and · marks', () => {
    const lines = text.split('\n');
    const start = lines.indexOf('Todos') + 1;
    const todoLines = lines.slice(start, lines.indexOf('', start));
    expect(todoLines.map((l) => l.trim()[0])).toEqual([
      '✓',
      '✓',
      '✓',
      '✓',
      '✓',
      '✓',
      '▶',
      '✓',
      '·',
    ]);
  });

  it('shows the tool call count, the latest calls and the interrupted status', () => {
    expect(text).toContain('Tool calls (79)');
    expect(text).toContain('… 67 earlier');
    expect(text).toContain('■ interrupted');
    expect(text).toContain('Write');
  });

  it('keeps every line within the width', () => {
    for (const line of renderSession(state, { color: true, width: 40 }).split('\n')) {
      expect([...stripVTControlCharacters(line)].length).toBeLessThanOrEqual(40);
    }
  });
});

describe('formatDuration', () => {
  it('uses ms, seconds or minutes as fits', () => {
    expect([formatDuration(850), formatDuration(1_234), formatDuration(125_000)]).toEqual([
      '850ms',
      '1.2s',
      '2m05s',
    ]);
  });
});
