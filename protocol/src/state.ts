import { z } from 'zod';
import { diagnostic, jsonValue, todo } from './events';
import { messageStatus, previewStatus, sessionStatus, toolCallStatus, turnStatus } from './status';

/** The session state the reducer builds from the log (DESIGN §3). */

export const turnState = z.object({
  turnId: z.string(),
  status: turnStatus,
  agent: z.string(),
  model: z.string(),
  buildId: z.string(),
  runnerId: z.string(),
  startedAt: z.number(),
  finishedAt: z.number().optional(),
  durationMs: z.number().optional(),
  error: z.string().optional(),
  /** Tokens and cost of this turn's messages. */
  usage: z.lazy(() => usageTotals),
});
export type TurnState = z.infer<typeof turnState>;

export const messageState = z.object({
  messageId: z.string(),
  role: z.enum(['user', 'assistant']),
  text: z.string(),
  reasoning: z.string(),
  turnId: z.string().optional(),
  status: messageStatus,
  /** Seq of the event that created it (for timeline navigation). */
  seq: z.number(),
  at: z.number(),
  authorId: z.string().optional(),
  clientMessageId: z.string().optional(),
});
export type MessageState = z.infer<typeof messageState>;

export const toolCallState = z.object({
  toolCallId: z.string(),
  toolName: z.string(),
  input: jsonValue,
  output: jsonValue.optional(),
  isError: z.boolean(),
  truncated: z.boolean(),
  status: toolCallStatus,
  /** Index into `todos` of the main agent's in-progress todo when the call started. */
  todoIndex: z.number().int().optional(),
  parentToolCallId: z.string().optional(),
  turnId: z.string().optional(),
  seq: z.number(),
  startedAt: z.number(),
  finishedAt: z.number().optional(),
  durationMs: z.number().optional(),
});
export type ToolCallState = z.infer<typeof toolCallState>;

export const usageTotals = z.object({
  inputTokens: z.number(),
  outputTokens: z.number(),
  cacheReadTokens: z.number(),
  cacheWriteTokens: z.number(),
  reasoningTokens: z.number(),
  costUsd: z.number(),
});
export type UsageTotals = z.infer<typeof usageTotals>;

export const sessionState = z.object({
  sessionId: z.string(),
  projectId: z.string(),
  status: sessionStatus,
  statusReason: z.string().optional(),
  title: z.string(),
  headSeq: z.number().int().nonnegative(),
  protocolVersion: z.number().int(),
  turns: z.array(turnState),
  messages: z.array(messageState),
  todos: z.array(todo),
  toolCalls: z.array(toolCallState),
  usage: usageTotals,
  /** Usage per model id. */
  usageByModel: z.record(z.string(), usageTotals),
  diagnostics: z
    .object({ source: z.string(), errors: z.array(diagnostic), seq: z.number() })
    .nullable(),
  preview: z
    .object({ url: z.string(), status: previewStatus, version: z.number().int().optional() })
    .nullable(),
  /** Commit time of the last event. */
  updatedAt: z.number(),
});
export type SessionState = z.infer<typeof sessionState>;
