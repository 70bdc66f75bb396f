import { z } from 'zod';

/**
 * The parts of Codex session rollout lines (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`,
 * `{timestamp, type, payload}`) that Kiln reads. Objects are not strict: unknown fields are
 * ignored, and a line that fails its schema carries nothing.
 */

/** One request's tokens (`token_count.info.last_token_usage`); input includes the cached part. */
const rolloutUsage = z.object({
  input_tokens: z.number().int().nonnegative().nullish(),
  cached_input_tokens: z.number().int().nonnegative().nullish(),
  output_tokens: z.number().int().nonnegative().nullish(),
  reasoning_output_tokens: z.number().int().nonnegative().nullish(),
});
export type RolloutUsage = z.infer<typeof rolloutUsage>;

const textPart = z.object({ type: z.string(), text: z.string().optional() }).loose();

/** `response_item` payloads: the model's own items. */
export const responseItem = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message'),
    role: z.string(),
    content: z.array(textPart).default([]),
  }),
  z.object({
    type: z.literal('reasoning'),
    summary: z.array(textPart).nullish(),
  }),
  z.object({
    type: z.literal('function_call'),
    name: z.string().min(1),
    arguments: z.string().default(''),
    call_id: z.string().min(1),
  }),
  z.object({
    type: z.literal('custom_tool_call'),
    name: z.string().min(1),
    input: z.string().default(''),
    call_id: z.string().min(1),
  }),
  z.object({
    type: z.enum(['function_call_output', 'custom_tool_call_output']),
    call_id: z.string().min(1),
    output: z.unknown(),
  }),
]);
export type ResponseItem = z.infer<typeof responseItem>;

/** `event_msg` payloads Kiln reads; the others (agent_message, agent_reasoning …) repeat items. */
export const eventMsg = z.discriminatedUnion('type', [
  z.object({ type: z.literal('task_started'), turn_id: z.string().nullish() }),
  z.object({
    type: z.literal('task_complete'),
    turn_id: z.string().nullish(),
    duration_ms: z.number().nonnegative().nullish(),
  }),
  z.object({ type: z.literal('turn_aborted'), reason: z.string().nullish() }),
  z.object({ type: z.literal('user_message'), message: z.string() }),
  z.object({
    type: z.literal('token_count'),
    info: z
      .object({
        last_token_usage: rolloutUsage.nullish(),
        total_token_usage: rolloutUsage.nullish(),
      })
      .nullish(),
  }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);

/** Any rollout line the mapper reads. */
export const rolloutLine = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('session_meta'),
    payload: z.object({ id: z.string().min(1) }).loose(),
  }),
  z.object({
    type: z.literal('turn_context'),
    payload: z.object({ model: z.string().nullish() }).loose(),
  }),
  z.object({ type: z.literal('response_item'), payload: z.unknown() }),
  z.object({ type: z.literal('event_msg'), payload: z.unknown() }),
]);

/** `update_plan` arguments: Codex's todo list. */
export const updatePlanArgs = z.object({
  plan: z.array(
    z.object({ step: z.string(), status: z.enum(['pending', 'in_progress', 'completed']) }),
  ),
});
