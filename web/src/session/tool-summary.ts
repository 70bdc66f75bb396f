import type { ToolCallState } from '@kiln/protocol';

/** What a tool call row shows as its state. */
export type ToolCallDisplayStatus = 'running' | 'done' | 'error' | 'abandoned';

/** `done` with `isError` shows as `error`. */
export function displayStatus(call: ToolCallState): ToolCallDisplayStatus {
  if (call.status === 'done') return call.isError ? 'error' : 'done';
  return call.status;
}

/**
 * Input keys worth a one-line summary, most telling first. Claude Code, Codex and the ai-sdk tools
 * name them differently (`file_path`, `path`, `cmd`…).
 */
const SUMMARY_KEYS = [
  'file_path',
  'path',
  'notebook_path',
  'command',
  'cmd',
  'pattern',
  'query',
  'url',
  'description',
  'prompt',
  'subject',
  'title',
  'name',
] as const;

const MAX_SUMMARY = 160;

/** A one-line summary of a tool input: its path, command, pattern or description. */
export function summarizeInput(input: unknown): string {
  if (typeof input === 'string') return oneLine(input);
  if (typeof input !== 'object' || input === null) return input === undefined ? '' : String(input);
  if (Array.isArray(input)) return `${input.length} item${input.length === 1 ? '' : 's'}`;
  const record = input as Record<string, unknown>;
  // Search tools: the pattern says more than where it looked.
  if (typeof record.pattern === 'string' && record.pattern) {
    const where = typeof record.path === 'string' && record.path ? ` in ${record.path}` : '';
    return oneLine(`${record.pattern}${where}`);
  }
  for (const key of SUMMARY_KEYS) {
    const value = record[key];
    if (typeof value === 'string' && value.trim()) return oneLine(value);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      return oneLine(value.join(' '));
    }
  }
  if (Array.isArray(record.todos)) {
    return `${record.todos.length} todo${record.todos.length === 1 ? '' : 's'}`;
  }
  for (const value of Object.values(record)) {
    if (typeof value === 'string' && value.trim()) return oneLine(value);
  }
  return oneLine(JSON.stringify(record));
}

/** Text of a value for a `<pre>`: strings as they are, text content blocks joined, else JSON. */
export function displayValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  if (Array.isArray(value) && value.length > 0 && value.every(isTextBlock)) {
    return value.map((block) => block.text).join('\n');
  }
  return JSON.stringify(value, null, 2) ?? String(value);
}

function isTextBlock(value: unknown): value is { type: 'text'; text: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    'type' in value &&
    value.type === 'text' &&
    'text' in value &&
    typeof value.text === 'string'
  );
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_SUMMARY ? `${line.slice(0, MAX_SUMMARY - 1)}…` : line;
}
