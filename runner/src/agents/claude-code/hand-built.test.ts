import { describe, expect, it } from 'vitest';
import { ofType, reduceBodies } from '../fixtures';
import { mapRecording } from '../mapper';
import type { RecordedLine } from '../recording';
import { ClaudeCodeMapper } from './mapper';

/** Hand-built Claude Code streams for the rules the recorded fixtures do not exercise. */

const SESSION = 'sess-1';

function lines(values: unknown[]): RecordedLine[] {
  return values.map((value, i) => ({ lineNumber: i + 1, value }));
}

function map(values: unknown[]) {
  return mapRecording(new ClaudeCodeMapper({ buildId: 'b', producerId: 'r' }), lines(values));
}

const init = { type: 'system', subtype: 'init', session_id: SESSION, model: 'claude-x' };
const streamEvent = (event: unknown, parent: string | null = null) => ({
  type: 'stream_event',
  event,
  parent_tool_use_id: parent,
  session_id: SESSION,
});
const assistant = (id: string, block: unknown, usage?: unknown, parent: string | null = null) => ({
  type: 'assistant',
  message: {
    id,
    model: 'claude-x',
    content: [block],
    stop_reason: null,
    ...(usage ? { usage } : {}),
  },
  parent_tool_use_id: parent,
  session_id: SESSION,
});
const toolResult = (
  id: string,
  content: unknown,
  isError = false,
  parent: string | null = null,
) => ({
  type: 'user',
  message: {
    role: 'user',
    content: [{ type: 'tool_result', tool_use_id: id, content, is_error: isError }],
  },
  parent_tool_use_id: parent,
  session_id: SESSION,
});
const result = (extra: Record<string, unknown> = {}) => ({
  type: 'result',
  subtype: 'success',
  is_error: false,
  duration_ms: 1234,
  total_cost_usd: 0.0123,
  session_id: SESSION,
  ...extra,
});

/** A `--include-partial-messages` run: deltas first, then each block's complete assistant line. */
const partialRun = [
  init,
  streamEvent({
    type: 'message_start',
    message: {
      id: 'msg_A',
      model: 'claude-x',
      usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 100 },
    },
  }),
  streamEvent({
    type: 'content_block_start',
    index: 0,
    content_block: { type: 'thinking', thinking: '' },
  }),
  streamEvent({
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'thinking_delta', thinking: 'Let me' },
  }),
  streamEvent({
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'thinking_delta', thinking: ' think.' },
  }),
  streamEvent({ type: 'content_block_stop', index: 0 }),
  assistant(
    'msg_A',
    { type: 'thinking', thinking: 'Let me think.' },
    { input_tokens: 10, output_tokens: 1 },
  ),
  streamEvent({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }),
  streamEvent({
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'text_delta', text: 'Hello' },
  }),
  streamEvent({
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'text_delta', text: ', world' },
  }),
  streamEvent({ type: 'content_block_stop', index: 1 }),
  assistant(
    'msg_A',
    { type: 'text', text: 'Hello, world' },
    { input_tokens: 10, output_tokens: 1 },
  ),
  streamEvent({
    type: 'content_block_start',
    index: 2,
    content_block: { type: 'tool_use', id: 't1', name: 'Bash', input: {} },
  }),
  streamEvent({
    type: 'content_block_delta',
    index: 2,
    delta: { type: 'input_json_delta', partial_json: '{"command":"ls"}' },
  }),
  streamEvent({ type: 'content_block_stop', index: 2 }),
  assistant(
    'msg_A',
    { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'ls' } },
    { input_tokens: 10, output_tokens: 1 },
  ),
  streamEvent({
    type: 'message_delta',
    delta: { stop_reason: 'tool_use' },
    usage: { output_tokens: 42 },
  }),
  streamEvent({ type: 'message_stop' }),
  toolResult('t1', 'a.txt\nb.txt'),
  streamEvent({
    type: 'message_start',
    message: { id: 'msg_B', model: 'claude-x', usage: { input_tokens: 5, output_tokens: 1 } },
  }),
  streamEvent({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  streamEvent({
    type: 'content_block_delta',
    index: 0,
    delta: { type: 'text_delta', text: 'Done' },
  }),
  streamEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: '.' } }),
  streamEvent({ type: 'content_block_stop', index: 0 }),
  assistant('msg_B', { type: 'text', text: 'Done.' }, { input_tokens: 5, output_tokens: 1 }),
  streamEvent({
    type: 'message_delta',
    delta: { stop_reason: 'end_turn' },
    usage: { output_tokens: 7 },
  }),
  streamEvent({ type: 'message_stop' }),
  result(),
];

describe('the Claude Code mapper on a --include-partial-messages stream', () => {
  const events = map(partialRun);

  it('sends streamed text once, not again when the complete assistant line follows', () => {
    const deltas = ofType(events, 'text-delta');
    expect(deltas.map((e) => e.delta)).toEqual(['Hello', ', world', 'Done', '.']);
    const state = reduceBodies(events);
    expect(state.messages.map((m) => m.text)).toEqual(['Hello, world', 'Done.']);
    expect(state.messages[0]?.reasoning).toBe('Let me think.');
  });

  it('counts usage once per message, taking message_delta’s final output tokens', () => {
    const usage = ofType(events, 'usage').filter((e) => e.messageId !== undefined);
    expect(
      usage.map((e) => [e.messageId, e.inputTokens, e.outputTokens, e.cacheReadTokens]),
    ).toEqual([
      ['msg_A', 10, 42, 100],
      ['msg_B', 5, 7, 0],
    ]);
    const state = reduceBodies(events);
    expect(state.usage.outputTokens).toBe(49);
    expect(state.usage.inputTokens).toBe(15);
  });

  it('puts the run’s cost on a zero-token usage event before the turn finishes', () => {
    const cost = ofType(events, 'usage').filter((e) => e.messageId === undefined);
    expect(cost).toEqual([
      {
        type: 'usage',
        inputTokens: 0,
        outputTokens: 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        reasoningTokens: 0,
        model: 'claude-x',
        costUsd: 0.0123,
      },
    ]);
    expect(reduceBodies(events).usage.costUsd).toBeCloseTo(0.0123, 10);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['usage', 'turn-finished']);
  });

  it('takes tool input from the complete line and finishes the turn from result', () => {
    expect(ofType(events, 'tool-input-available')).toEqual([
      {
        type: 'tool-input-available',
        toolCallId: 't1',
        toolName: 'Bash',
        input: { command: 'ls' },
      },
    ]);
    expect(ofType(events, 'message-finish').map((e) => e.finishReason)).toEqual([
      'tool_use',
      'end_turn',
    ]);
    expect(ofType(events, 'turn-finished')).toEqual([
      { type: 'turn-finished', turnId: `${SESSION}:1`, status: 'completed', durationMs: 1234 },
    ]);
  });

  it('keeps message_delta’s usage when an assistant line with older usage arrives after it', () => {
    const late = map([
      init,
      streamEvent({
        type: 'message_start',
        message: { id: 'm', model: 'claude-x', usage: { output_tokens: 1 } },
      }),
      streamEvent({
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { output_tokens: 9 },
      }),
      assistant('m', { type: 'text', text: 'Hi' }, { output_tokens: 1 }),
      result(),
    ]);
    expect(ofType(late, 'usage').map((e) => e.outputTokens)).toEqual([9, 0]);
  });

  it('sends only the unsent end of a block whose stream was cut short', () => {
    const cut = map([
      init,
      streamEvent({ type: 'message_start', message: { id: 'm', model: 'claude-x' } }),
      streamEvent({
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'text', text: '' },
      }),
      streamEvent({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'Hel' },
      }),
      assistant('m', { type: 'text', text: 'Hello' }),
      result(),
    ]);
    expect(ofType(cut, 'text-delta').map((e) => e.delta)).toEqual(['Hel', 'lo']);
  });
});

describe('the Claude Code mapper on runs and subagents', () => {
  it('maps several runs in one file to several turns, interrupting one cut off by a new init', () => {
    const events = map([
      init,
      assistant('m1', { type: 'text', text: 'one' }),
      result(),
      init,
      assistant('m2', { type: 'text', text: 'two' }),
      init,
      assistant('m3', { type: 'text', text: 'three' }),
      result({ subtype: 'error_during_execution', is_error: true, result: 'boom' }),
    ]);
    expect(ofType(events, 'turn-started').map((e) => e.turnId)).toEqual([
      `${SESSION}:1`,
      `${SESSION}:2`,
      `${SESSION}:3`,
    ]);
    expect(ofType(events, 'turn-finished').map((e) => [e.status, e.error])).toEqual([
      ['completed', undefined],
      ['interrupted', 'a new turn started before this one ended'],
      ['failed', 'boom'],
    ]);
    const state = reduceBodies(events);
    expect(state.messages.map((m) => [m.text, m.turnId])).toEqual([
      ['one', `${SESSION}:1`],
      ['two', `${SESSION}:2`],
      ['three', `${SESSION}:3`],
    ]);
  });

  it('keeps a subagent’s TodoWrite an ordinary tool call and leaves the main list alone', () => {
    const todos = [{ content: 'x', activeForm: 'Doing x', status: 'in_progress' }];
    const events = map([
      init,
      assistant('m1', { type: 'tool_use', id: 'task', name: 'Task', input: {} }),
      assistant(
        'm2',
        { type: 'tool_use', id: 'sub-todo', name: 'TodoWrite', input: { todos } },
        undefined,
        'task',
      ),
      toolResult('sub-todo', 'ok', false, 'task'),
      toolResult('task', 'done'),
      assistant('m3', { type: 'tool_use', id: 'main-todo', name: 'TodoWrite', input: { todos } }),
      toolResult('main-todo', 'ok'),
      result(),
    ]);
    expect(ofType(events, 'todos-updated')).toHaveLength(1);
    const state = reduceBodies(events);
    expect(state.toolCalls.map((t) => [t.toolCallId, t.parentToolCallId])).toEqual([
      ['task', undefined],
      ['sub-todo', 'task'],
      ['main-todo', undefined],
    ]);
    expect(state.todos).toEqual(todos);
  });

  it('finishes the message that called Task when its subagent starts writing', () => {
    const events = map([
      init,
      assistant(
        'm1',
        { type: 'tool_use', id: 'task', name: 'Task', input: {} },
        { output_tokens: 3 },
      ),
      assistant('m2', { type: 'text', text: 'sub' }, { output_tokens: 4 }, 'task'),
    ]);
    expect(events.map((e) => e.type)).toEqual([
      'turn-started',
      'message-start',
      'tool-input-available',
      'usage',
      'message-finish',
      'message-start',
      'text-delta',
      'usage',
      'message-finish',
      'turn-finished',
    ]);
  });
});
