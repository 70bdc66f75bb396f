import { z } from 'zod';
import { finishedTurnStatus, previewStatus, sessionStatus, todoStatus } from './status';

/**
 * Session events: the ordered, immutable log of one generation session (DESIGN §3).
 * Producers send bodies (no `seq`/`at`); the SessionDO adds the envelope when it commits them.
 */

const id = z.string().min(1).max(200);

/** A JSON value (tool inputs, outputs, checkpoint state). */
export const jsonValue: z.ZodType<unknown> = z.unknown();

export const todo = z.object({
  content: z.string(),
  activeForm: z.string(),
  status: todoStatus,
});
export type Todo = z.infer<typeof todo>;

/** Appended by the worker when a person sends a prompt. */
export const userMessageEvent = z.object({
  type: z.literal('user-message'),
  messageId: id,
  clientMessageId: id,
  text: z.string(),
  authorId: id,
});

/** Sent by the runner when it starts a turn of a build. */
export const turnStartedEvent = z.object({
  type: z.literal('turn-started'),
  turnId: id,
  buildId: id,
  runnerId: id,
  agent: z.string(),
  model: z.string(),
});

/** Sent by the runner when the agent starts an assistant message. */
export const messageStartEvent = z.object({
  type: z.literal('message-start'),
  messageId: id,
  role: z.literal('assistant'),
});

/** Streamed assistant text; consecutive deltas of one message in one frame are coalesced. */
export const textDeltaEvent = z.object({
  type: z.literal('text-delta'),
  messageId: id,
  delta: z.string(),
});

/** Streamed reasoning text; coalesced like `text-delta`. */
export const reasoningDeltaEvent = z.object({
  type: z.literal('reasoning-delta'),
  messageId: id,
  delta: z.string(),
});

/** The agent called a tool; subagent calls carry the Task call that spawned them. */
export const toolInputAvailableEvent = z.object({
  type: z.literal('tool-input-available'),
  toolCallId: id,
  toolName: z.string().min(1),
  input: jsonValue,
  parentToolCallId: id.optional(),
});

/** A tool call finished; its name is looked up from the matching input event. */
export const toolOutputAvailableEvent = z.object({
  type: z.literal('tool-output-available'),
  toolCallId: id,
  output: jsonValue,
  isError: z.boolean(),
  truncated: z.boolean(),
  /** Milliseconds from input to output, as the producer measured it (0 when unknown). */
  durationMs: z.number().nonnegative(),
});

/** The main agent's todo list changed (TodoWrite / update_plan). */
export const todosUpdatedEvent = z.object({
  type: z.literal('todos-updated'),
  todos: z.array(todo),
});

/** Token usage of one model message (counted once per message id). */
export const usageEvent = z.object({
  type: z.literal('usage'),
  messageId: id.optional(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative(),
  cacheWriteTokens: z.number().int().nonnegative(),
  reasoningTokens: z.number().int().nonnegative(),
  model: z.string(),
  /** US dollars, when the producer knows the price. */
  costUsd: z.number().nonnegative().optional(),
});

/** The agent finished an assistant message. */
export const messageFinishEvent = z.object({
  type: z.literal('message-finish'),
  messageId: id,
  finishReason: z.string(),
});

export const diagnostic = z.object({
  file: z.string().optional(),
  line: z.number().int().optional(),
  message: z.string(),
});
export type Diagnostic = z.infer<typeof diagnostic>;

/** Build errors found by the auto-fix loop (an empty list means the build is clean). */
export const diagnosticsEvent = z.object({
  type: z.literal('diagnostics'),
  source: z.string(),
  errors: z.array(diagnostic),
});

/**
 * Where the turn's built output can be seen. After an upload (PROTOCOL.md §10) `url` is Kiln's
 * preview of the stored `version` on the apps origin; without `version` it is a server the runner
 * itself runs (`kiln runner --serve-preview`).
 */
export const previewUpdatedEvent = z.object({
  type: z.literal('preview-updated'),
  url: z.string(),
  status: previewStatus,
  version: z.number().int().positive().optional(),
});

/**
 * An agent CLI's conversation id for `--resume` (Claude Code) or `resume` (Codex): a UUID-like
 * token of letters, digits, `-`, `_`, `.`, starting with a letter or digit, at most 128 chars, so
 * it can never be read as a flag. Checkpoint states that carry `resumeId` must match it.
 */
export const resumeId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);

/** Opaque agent state for resuming the next turn; its `state` is never sent to browsers. */
export const checkpointEvent = z.object({
  type: z.literal('checkpoint'),
  turnId: id,
  agent: z.string(),
  state: jsonValue,
});

/** A turn ended. */
export const turnFinishedEvent = z.object({
  type: z.literal('turn-finished'),
  turnId: id,
  status: finishedTurnStatus,
  error: z.string().optional(),
  durationMs: z.number().nonnegative(),
});

/** The session got a title. */
export const sessionRenamedEvent = z.object({
  type: z.literal('session-renamed'),
  title: z.string().max(200),
});

/** Session-level status set by the platform (queued by the hub, failed by lifecycle rules). */
export const sessionStatusEvent = z.object({
  type: z.literal('session-status'),
  status: sessionStatus,
  reason: z.string().optional(),
});

const runnerEventSchemas = [
  turnStartedEvent,
  messageStartEvent,
  textDeltaEvent,
  reasoningDeltaEvent,
  toolInputAvailableEvent,
  toolOutputAvailableEvent,
  todosUpdatedEvent,
  usageEvent,
  messageFinishEvent,
  diagnosticsEvent,
  previewUpdatedEvent,
  checkpointEvent,
  turnFinishedEvent,
  sessionRenamedEvent,
] as const;

/** An event body a runner (or any leased producer) may send on the ingest socket. */
export const runnerEventBody = z.discriminatedUnion('type', [...runnerEventSchemas]);
export type RunnerEventBody = z.infer<typeof runnerEventBody>;

/** Any event body, including those only the platform appends. */
export const eventBody = z.discriminatedUnion('type', [
  userMessageEvent,
  sessionStatusEvent,
  ...runnerEventSchemas,
]);
export type EventBody = z.infer<typeof eventBody>;
export type EventType = EventBody['type'];

/** The envelope the SessionDO adds when it commits an event. */
export const eventEnvelope = z.object({
  /** 1, 2, 3 … per session, no gaps. */
  seq: z.number().int().positive(),
  /** Commit time, ms since the epoch. */
  at: z.number().int().nonnegative(),
});

/** A committed session event as stored and delivered. */
export const sessionEvent = z.intersection(eventEnvelope, eventBody);
export type SessionEvent = EventBody & z.infer<typeof eventEnvelope>;

/** The subset of events that are sent immediately rather than batched (issue: fan-out). */
export const URGENT_EVENT_TYPES: ReadonlySet<EventType> = new Set<EventType>([
  'user-message',
  'turn-started',
  'turn-finished',
  'tool-input-available',
  'tool-output-available',
  'todos-updated',
  'session-status',
  'diagnostics',
  'preview-updated',
]);
