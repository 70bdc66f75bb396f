import { z } from 'zod';

/**
 * The parts of `codex exec --json` lines (Codex CLI 0.46) that Kiln reads. Objects are not strict:
 * unknown fields are ignored, and a line or item that fails its schema carries nothing.
 */

/** `turn.completed.usage`; `input_tokens` includes `cached_input_tokens` (OpenAI convention). */
const codexUsage = z.object({
  input_tokens: z.number().int().nonnegative().nullish(),
  cached_input_tokens: z.number().int().nonnegative().nullish(),
  output_tokens: z.number().int().nonnegative().nullish(),
  reasoning_output_tokens: z.number().int().nonnegative().nullish(),
});
export type CodexUsage = z.infer<typeof codexUsage>;

/** Any line the Codex mapper reads. */
export const codexLine = z.discriminatedUnion('type', [
  z.object({ type: z.literal('thread.started'), thread_id: z.string().min(1) }),
  z.object({ type: z.literal('turn.started') }),
  z.object({ type: z.literal('turn.completed'), usage: codexUsage.nullish() }),
  z.object({
    type: z.literal('turn.failed'),
    error: z.object({ message: z.string() }).nullish(),
  }),
  z.object({
    type: z.enum(['item.started', 'item.updated', 'item.completed']),
    item: z.object({ id: z.string().min(1), type: z.string() }).loose(),
  }),
  /** A stream-level error (e.g. a lost connection to the model); a `turn.failed` may follow. */
  z.object({ type: z.literal('error'), message: z.string() }),
]);

/** Thread items, by `item.type`. */
export const codexItem = z.discriminatedUnion('type', [
  z.object({ id: z.string(), type: z.literal('agent_message'), text: z.string() }),
  z.object({ id: z.string(), type: z.literal('reasoning'), text: z.string() }),
  z.object({
    id: z.string(),
    type: z.literal('command_execution'),
    command: z.string(),
    aggregated_output: z.string().nullish(),
    exit_code: z.number().int().nullish(),
    status: z.string().nullish(),
  }),
  z.object({
    id: z.string(),
    type: z.literal('file_change'),
    changes: z.array(z.object({ path: z.string(), kind: z.string() }).loose()),
    status: z.string().nullish(),
  }),
  z.object({
    id: z.string(),
    type: z.literal('mcp_tool_call'),
    server: z.string(),
    tool: z.string(),
    arguments: z.unknown(),
    result: z.unknown(),
    error: z.object({ message: z.string() }).nullish(),
    status: z.string().nullish(),
  }),
  z.object({ id: z.string(), type: z.literal('web_search'), query: z.string() }),
  z.object({
    id: z.string(),
    type: z.literal('todo_list'),
    items: z.array(z.object({ text: z.string(), completed: z.boolean() })),
  }),
  z.object({ id: z.string(), type: z.literal('error'), message: z.string() }),
]);
export type CodexItem = z.infer<typeof codexItem>;
