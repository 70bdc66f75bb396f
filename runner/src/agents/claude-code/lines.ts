import { z } from 'zod';

/**
 * The parts of Claude Code's stream-json lines and session-transcript lines that Kiln reads
 * (Claude Code 2.0). Objects are not strict: fields Kiln does not use are ignored, and a line that
 * fails its schema carries nothing for the protocol.
 */

const nullableString = z.string().nullish();

/** Anthropic `usage`; every field optional because partial events carry only some. */
const claudeUsage = z.object({
  input_tokens: z.number().int().nonnegative().nullish(),
  output_tokens: z.number().int().nonnegative().nullish(),
  cache_read_input_tokens: z.number().int().nonnegative().nullish(),
  cache_creation_input_tokens: z.number().int().nonnegative().nullish(),
});
export type ClaudeUsage = z.infer<typeof claudeUsage>;

/** Content blocks Kiln maps; other block types (image, redacted_thinking…) are skipped. */
export const claudeContentBlock = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({ type: z.literal('thinking'), thinking: z.string() }),
  z.object({
    type: z.literal('tool_use'),
    id: z.string().min(1),
    name: z.string().min(1),
    input: z.unknown(),
  }),
  z.object({
    type: z.literal('tool_result'),
    tool_use_id: z.string().min(1),
    content: z.unknown(),
    is_error: z.boolean().nullish(),
  }),
]);

/** Fields every line may carry: the session it belongs to and the subagent call it runs under. */
const common = {
  session_id: nullableString,
  /** Transcripts spell it camelCase. */
  sessionId: nullableString,
  parent_tool_use_id: nullableString,
  /** Transcripts: a subagent's line, written without a parent id. */
  isSidechain: z.boolean().nullish(),
  /** Transcripts (2.0.x+): the subagent a sidechain line belongs to. */
  agentId: nullableString,
  /** Transcripts: the line's id and the line it follows (sidechains are chained by them). */
  uuid: nullableString,
  parentUuid: nullableString,
  /** Transcripts: a line Claude Code wrote for itself (caveats, command echoes). */
  isMeta: z.boolean().nullish(),
};

/** `system/init`: opens a turn. */
const claudeInitLine = z.object({
  ...common,
  type: z.literal('system'),
  subtype: z.literal('init'),
  model: z.string().nullish(),
});

/** One or more content blocks of an assistant message (stream-json: one block a line). */
const claudeAssistantLine = z.object({
  ...common,
  type: z.literal('assistant'),
  message: z.object({
    id: z.string().min(1),
    model: z.string().nullish(),
    content: z.array(z.unknown()),
    stop_reason: nullableString,
    usage: claudeUsage.nullish(),
  }),
});
export type ClaudeAssistantLine = z.infer<typeof claudeAssistantLine>;

/** A prompt (string content or text blocks) or tool results. */
const claudeUserLine = z.object({
  ...common,
  type: z.literal('user'),
  message: z.object({ content: z.union([z.string(), z.array(z.unknown())]) }),
});
export type ClaudeUserLine = z.infer<typeof claudeUserLine>;

/** `result`: closes a turn. */
const claudeResultLine = z.object({
  ...common,
  type: z.literal('result'),
  subtype: z.string(),
  is_error: z.boolean().nullish(),
  duration_ms: z.number().nonnegative().nullish(),
  total_cost_usd: z.number().nonnegative().nullish(),
  result: z.string().nullish(),
});
export type ClaudeResultLine = z.infer<typeof claudeResultLine>;

/** `--include-partial-messages`: an Anthropic streaming event, wrapped. */
const claudeStreamEventLine = z.object({
  ...common,
  type: z.literal('stream_event'),
  event: z.unknown(),
});

/** The Anthropic streaming events Kiln reads from `stream_event` lines. */
export const anthropicStreamEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message_start'),
    message: z.object({
      id: z.string().min(1),
      model: z.string().nullish(),
      usage: claudeUsage.nullish(),
    }),
  }),
  z.object({
    type: z.literal('content_block_start'),
    index: z.number().int().nonnegative(),
    content_block: z.object({
      type: z.string(),
      text: z.string().nullish(),
      thinking: z.string().nullish(),
    }),
  }),
  z.object({
    type: z.literal('content_block_delta'),
    index: z.number().int().nonnegative(),
    delta: z.object({
      type: z.string(),
      text: z.string().nullish(),
      thinking: z.string().nullish(),
    }),
  }),
  z.object({ type: z.literal('content_block_stop'), index: z.number().int().nonnegative() }),
  z.object({
    type: z.literal('message_delta'),
    delta: z.object({ stop_reason: nullableString }).nullish(),
    usage: claudeUsage.nullish(),
  }),
  z.object({ type: z.literal('message_stop') }),
]);
export type AnthropicStreamEvent = z.infer<typeof anthropicStreamEvent>;

/** Transcripts: Claude Code's own title for the conversation (`/compact` and resumed sessions). */
const claudeSummaryLine = z.object({
  type: z.literal('summary'),
  summary: z.string(),
});

/** Any line the Claude Code mapper reads. */
export const claudeLine = z.discriminatedUnion('type', [
  claudeSummaryLine,
  claudeInitLine,
  claudeAssistantLine,
  claudeUserLine,
  claudeResultLine,
  claudeStreamEventLine,
]);
export type ClaudeLine = z.infer<typeof claudeLine>;

/** A TodoWrite item; `activeForm` is missing in older versions and then defaults to `content`. */
const claudeTodoItem = z.object({
  content: z.string(),
  status: z.enum(['pending', 'in_progress', 'completed']),
  activeForm: z.string().nullish(),
});
export const claudeTodoWriteInput = z.object({ todos: z.array(claudeTodoItem) });
