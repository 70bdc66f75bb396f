import { describe, expect, it } from 'vitest';
import type { EventBody } from './events';
import { TOOL_OUTPUT_LIMIT_BYTES } from './limits';
import { applyEvent, applyEvents, createSessionState, SeqGapError } from './reducer';
import { committed as commit } from './testing';
import { capToolOutput, jsonByteLength } from './tool-output';

const todos = (statuses: ('pending' | 'in_progress' | 'completed')[]) =>
  statuses.map((status, i) => ({ content: `Todo ${i}`, activeForm: `Doing ${i}`, status }));

const turnStarted: EventBody = {
  type: 'turn-started',
  turnId: 'turn-1',
  buildId: 'b1',
  runnerId: 'r1',
  agent: 'replay',
  model: 'm',
};

const reduce = (bodies: EventBody[]) => applyEvents(createSessionState('s1', 'p1'), commit(bodies));

describe('applyEvent', () => {
  it('nests each tool call under the todo in progress when it started', () => {
    const state = reduce([
      turnStarted,
      { type: 'tool-input-available', toolCallId: 'before', toolName: 'Read', input: {} },
      { type: 'todos-updated', todos: todos(['in_progress', 'pending']) },
      { type: 'tool-input-available', toolCallId: 'a', toolName: 'Read', input: {} },
      { type: 'todos-updated', todos: todos(['completed', 'in_progress']) },
      { type: 'tool-input-available', toolCallId: 'b', toolName: 'Edit', input: {} },
      { type: 'todos-updated', todos: todos(['completed', 'completed']) },
      { type: 'tool-input-available', toolCallId: 'after', toolName: 'Bash', input: {} },
    ]);
    expect(state.toolCalls.map((t) => [t.toolCallId, t.todoIndex])).toEqual([
      ['before', undefined],
      ['a', 0],
      ['b', 1],
      ['after', undefined],
    ]);
    expect(state.todos.map((t) => t.status)).toEqual(['completed', 'completed']);
  });

  // x reports no duration, so it is measured from commit times (seq 2 → seq 4: 2 ms).
  it('matches an output to its input by toolCallId and keeps the name from the input', () => {
    const state = reduce([
      turnStarted,
      { type: 'tool-input-available', toolCallId: 'x', toolName: 'Bash', input: { command: 'ls' } },
      {
        type: 'tool-input-available',
        toolCallId: 'y',
        toolName: 'Read',
        input: { file_path: 'a' },
      },
      {
        type: 'tool-output-available',
        toolCallId: 'x',
        output: 'boom',
        isError: true,
        truncated: false,
        durationMs: 0,
      },
      {
        type: 'tool-output-available',
        toolCallId: 'y',
        output: 'text',
        isError: false,
        truncated: true,
        durationMs: 40,
      },
    ]);
    expect(state.toolCalls).toMatchObject([
      {
        toolCallId: 'x',
        toolName: 'Bash',
        output: 'boom',
        isError: true,
        status: 'done',
        // Measured from commit times: two events, committed 1 s apart each (`committed`).
        durationMs: 2000,
      },
      {
        toolCallId: 'y',
        toolName: 'Read',
        output: 'text',
        truncated: true,
        status: 'done',
        durationMs: 40,
      },
    ]);
  });

  it('keeps a subagent call under its parent and in the parent todo', () => {
    const state = reduce([
      turnStarted,
      { type: 'todos-updated', todos: todos(['in_progress', 'pending']) },
      { type: 'tool-input-available', toolCallId: 'task', toolName: 'Task', input: {} },
      { type: 'todos-updated', todos: todos(['completed', 'in_progress']) },
      {
        type: 'tool-input-available',
        toolCallId: 'sub',
        toolName: 'Glob',
        input: {},
        parentToolCallId: 'task',
      },
    ]);
    expect(state.toolCalls[1]).toMatchObject({
      toolCallId: 'sub',
      parentToolCallId: 'task',
      todoIndex: 0,
    });
  });

  it('abandons tool calls still running when their turn finishes, and only those', () => {
    const state = reduce([
      turnStarted,
      { type: 'tool-input-available', toolCallId: 'done', toolName: 'Read', input: {} },
      {
        type: 'tool-output-available',
        toolCallId: 'done',
        output: '',
        isError: false,
        truncated: false,
        durationMs: 1,
      },
      { type: 'tool-input-available', toolCallId: 'left', toolName: 'Bash', input: {} },
      { type: 'message-start', messageId: 'm', role: 'assistant' },
      { type: 'text-delta', messageId: 'm', delta: 'hi' },
      { type: 'turn-finished', turnId: 'turn-1', status: 'interrupted', durationMs: 9 },
    ]);
    expect(state.toolCalls.map((t) => t.status)).toEqual(['done', 'abandoned']);
    expect(state.messages[0]?.status).toBe('done');
    expect(state.turns[0]).toMatchObject({ status: 'interrupted', durationMs: 9 });
    expect(state.status).toBe('interrupted');
  });

  it('sums usage across messages, per model and per turn', () => {
    const usage = (model: string, n: number, costUsd?: number): EventBody => ({
      type: 'usage',
      inputTokens: n,
      outputTokens: 2 * n,
      cacheReadTokens: 3 * n,
      cacheWriteTokens: 4 * n,
      reasoningTokens: 5 * n,
      model,
      ...(costUsd === undefined ? {} : { costUsd }),
    });
    const state = reduce([turnStarted, usage('a', 1, 0.5), usage('b', 10), usage('a', 100, 0.25)]);
    expect(state.usage).toEqual({
      inputTokens: 111,
      outputTokens: 222,
      cacheReadTokens: 333,
      cacheWriteTokens: 444,
      reasoningTokens: 555,
      costUsd: 0.75,
    });
    expect(state.usageByModel.a?.inputTokens).toBe(101);
    expect(state.usageByModel.b?.inputTokens).toBe(10);
    expect(state.turns[0]?.usage.outputTokens).toBe(222);
  });

  it('streams text and reasoning into one message and titles the session from the first prompt', () => {
    const state = reduce([
      {
        type: 'user-message',
        messageId: 'u',
        clientMessageId: 'c',
        text: 'Build a todo app\nwith dark mode',
        authorId: 'me',
      },
      turnStarted,
      { type: 'message-start', messageId: 'm', role: 'assistant' },
      { type: 'reasoning-delta', messageId: 'm', delta: 'think' },
      { type: 'text-delta', messageId: 'm', delta: 'Hello ' },
      { type: 'text-delta', messageId: 'm', delta: 'world' },
      { type: 'message-finish', messageId: 'm', finishReason: 'stop' },
      { type: 'turn-finished', turnId: 'turn-1', status: 'completed', durationMs: 5 },
    ]);
    expect(state.title).toBe('Build a todo app');
    expect(state.messages.map((m) => [m.role, m.text, m.reasoning, m.status, m.turnId])).toEqual([
      ['user', 'Build a todo app\nwith dark mode', '', 'done', undefined],
      ['assistant', 'Hello world', 'think', 'done', 'turn-1'],
    ]);
    expect(state.status).toBe('idle');
  });

  it('ignores events it already has and throws on a gap', () => {
    const events = commit([turnStarted, { type: 'session-renamed', title: 'T' }]);
    const state = applyEvents(createSessionState('s', 'p'), events);
    expect(applyEvent(state, events[0]!)).toBe(state);
    expect(() => applyEvent(state, { ...events[1]!, seq: 4 })).toThrow(SeqGapError);
  });

  it('shares every object an event did not touch', () => {
    const before = reduce([
      turnStarted,
      { type: 'message-start', messageId: 'a', role: 'assistant' },
      { type: 'message-start', messageId: 'b', role: 'assistant' },
      { type: 'tool-input-available', toolCallId: 't', toolName: 'Read', input: {} },
    ]);
    const after = applyEvent(before, {
      type: 'text-delta',
      messageId: 'b',
      delta: 'x',
      seq: 5,
      at: 9,
    });
    expect(after.messages[0]).toBe(before.messages[0]);
    expect(after.messages[1]).not.toBe(before.messages[1]);
    expect(after.toolCalls).toBe(before.toolCalls);
  });
});

describe('capToolOutput', () => {
  it('passes small outputs through and cuts large ones to the limit, marked truncated', () => {
    expect(capToolOutput({ ok: 1 })).toEqual({ output: { ok: 1 }, truncated: false });
    const big = 'é'.repeat(TOOL_OUTPUT_LIMIT_BYTES);
    const capped = capToolOutput(big);
    expect(capped.truncated).toBe(true);
    expect(jsonByteLength(capped.output)).toBeLessThanOrEqual(TOOL_OUTPUT_LIMIT_BYTES);
    expect(jsonByteLength(capped.output)).toBeGreaterThan(TOOL_OUTPUT_LIMIT_BYTES - 4);
  });
});
