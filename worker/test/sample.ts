import type { RunnerEventBody } from '@kiln/protocol';

/** A small but complete turn: todos, nested tool calls (one errored, one subagent), text, usage. */
export function sampleTurn(buildId: string, turnId = 'turn-1'): RunnerEventBody[] {
  return [
    {
      type: 'turn-started',
      turnId,
      buildId,
      runnerId: 'test-runner',
      agent: 'replay',
      model: 'test-model',
    },
    { type: 'message-start', messageId: 'm1', role: 'assistant' },
    { type: 'text-delta', messageId: 'm1', delta: 'Planning ' },
    { type: 'text-delta', messageId: 'm1', delta: 'the work.' },
    {
      type: 'todos-updated',
      todos: [
        { content: 'Read code', activeForm: 'Reading code', status: 'in_progress' },
        { content: 'Write tests', activeForm: 'Writing tests', status: 'pending' },
      ],
    },
    {
      type: 'tool-input-available',
      toolCallId: 't1',
      toolName: 'Read',
      input: { file_path: 'a.ts' },
    },
    {
      type: 'tool-output-available',
      toolCallId: 't1',
      output: 'file a',
      isError: false,
      truncated: false,
      durationMs: 5,
    },
    {
      type: 'tool-input-available',
      toolCallId: 't2',
      toolName: 'Task',
      input: { prompt: 'explore' },
    },
    {
      type: 'tool-input-available',
      toolCallId: 't3',
      toolName: 'Glob',
      input: { pattern: '*' },
      parentToolCallId: 't2',
    },
    {
      type: 'tool-output-available',
      toolCallId: 't3',
      output: 'no match',
      isError: true,
      truncated: false,
      durationMs: 2,
    },
    {
      type: 'todos-updated',
      todos: [
        { content: 'Read code', activeForm: 'Reading code', status: 'completed' },
        { content: 'Write tests', activeForm: 'Writing tests', status: 'in_progress' },
      ],
    },
    {
      type: 'tool-input-available',
      toolCallId: 't4',
      toolName: 'Write',
      input: { file_path: 'a.test.ts' },
    },
    {
      type: 'usage',
      messageId: 'm1',
      inputTokens: 10,
      outputTokens: 20,
      cacheReadTokens: 3,
      cacheWriteTokens: 4,
      reasoningTokens: 0,
      model: 'test-model',
      costUsd: 0.01,
    },
    { type: 'message-finish', messageId: 'm1', finishReason: 'end_turn' },
    { type: 'turn-finished', turnId, status: 'completed', durationMs: 1000 },
  ];
}
