import type { EventBody, RunnerEventBody, SessionEvent } from '../events';
import { applyEvents, createSessionState } from '../reducer';
import type { SessionState } from '../state';

/**
 * Test fixtures shared by every package (`@kiln/protocol/testing`): numbering event bodies as the
 * SessionDO commits them, and small sample sessions. Never imported by production code.
 */

/** When `committed` stamps seq 0: 2023-11-14T22:13:20Z, a realistic time for views showing dates. */
export const COMMITTED_EPOCH_MS = 1_700_000_000_000;

/**
 * Numbers event bodies as the SessionDO would: seqs from `firstSeq`, each committed one second
 * after the previous (`at = COMMITTED_EPOCH_MS + seq × 1000`).
 */
export function committed(bodies: readonly EventBody[], firstSeq = 1): SessionEvent[] {
  return bodies.map((body, i) => ({
    ...body,
    seq: firstSeq + i,
    at: COMMITTED_EPOCH_MS + (firstSeq + i) * 1000,
  }));
}

/**
 * Text deltas `from` … `to - 1` of message `messageId`, each `"d<i> "`: a stream whose text is
 * known from its length (`textDeltas(m, 0, n).map((d) => d.delta).join('')`).
 */
export function textDeltas(
  messageId: string,
  from: number,
  to: number,
): Extract<RunnerEventBody, { type: 'text-delta' }>[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => ({
    type: 'text-delta' as const,
    messageId,
    delta: `d${from + i} `,
  }));
}

/** Seqs `from` … `to` inclusive, e.g. to compare the seqs a client received. */
export function seqRange(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** The state the shared reducer builds from these event bodies (seqs from 1). */
export function stateFrom(
  bodies: readonly EventBody[],
  sessionId = 's1',
  projectId = 'p1',
): SessionState {
  return applyEvents(createSessionState(sessionId, projectId), committed(bodies));
}

/** A small session as a person sees it: a prompt, a turn, a todo list and tool calls under todo 2. */
export function sampleBodies(): EventBody[] {
  return [
    {
      type: 'user-message',
      messageId: 'u1',
      clientMessageId: 'c1',
      text: 'Build a landing page',
      authorId: 'me',
    },
    {
      type: 'turn-started',
      turnId: 't1',
      buildId: 'b1',
      runnerId: 'r1',
      agent: 'demo',
      model: 'demo-1',
    },
    { type: 'message-start', messageId: 'a1', role: 'assistant' },
    { type: 'text-delta', messageId: 'a1', delta: 'I will **plan** first.' },
    {
      type: 'todos-updated',
      todos: [
        { content: 'Plan the page', activeForm: 'Planning the page', status: 'completed' },
        { content: 'Write the HTML', activeForm: 'Writing the HTML', status: 'in_progress' },
        { content: 'Run the build', activeForm: 'Running the build', status: 'pending' },
      ],
    },
    {
      type: 'tool-input-available',
      toolCallId: 'tc1',
      toolName: 'Write',
      input: { file_path: 'index.html', content: '<h1>Hi</h1>' },
    },
    {
      type: 'tool-output-available',
      toolCallId: 'tc1',
      output: 'File written',
      isError: false,
      truncated: false,
      durationMs: 120,
    },
    {
      type: 'tool-input-available',
      toolCallId: 'task1',
      toolName: 'Task',
      input: { description: 'Review the HTML' },
    },
    {
      type: 'tool-input-available',
      toolCallId: 'sub1',
      toolName: 'Read',
      input: { file_path: 'index.html' },
      parentToolCallId: 'task1',
    },
    {
      type: 'tool-output-available',
      toolCallId: 'sub1',
      output: 'x'.repeat(50),
      isError: false,
      truncated: true,
      durationMs: 30,
    },
    {
      type: 'tool-output-available',
      toolCallId: 'task1',
      output: { ok: true },
      isError: false,
      truncated: false,
      durationMs: 900,
    },
    {
      type: 'tool-input-available',
      toolCallId: 'bash1',
      toolName: 'Bash',
      input: { command: 'npm run build' },
    },
    {
      type: 'tool-output-available',
      toolCallId: 'bash1',
      output: 'error: missing script build',
      isError: true,
      truncated: false,
      durationMs: 2500,
    },
  ];
}

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
