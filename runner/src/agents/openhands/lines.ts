import { z } from 'zod';

/**
 * The parts of an OpenHands event trajectory (a JSON array of actions and observations, as saved
 * by `save_trajectory_path` or the UI's "export trajectory") that Kiln reads. Objects are not
 * strict; an event that fails its schema carries nothing.
 */

const usage = z
  .object({
    prompt_tokens: z.number().int().nonnegative().nullish(),
    completion_tokens: z.number().int().nonnegative().nullish(),
    cache_read_input_tokens: z.number().int().nonnegative().nullish(),
    cache_creation_input_tokens: z.number().int().nonnegative().nullish(),
    prompt_tokens_details: z
      .object({ cached_tokens: z.number().int().nullish() })
      .loose()
      .nullish(),
    completion_tokens_details: z
      .object({ reasoning_tokens: z.number().int().nullish() })
      .loose()
      .nullish(),
  })
  .loose();
export type OpenHandsUsage = z.infer<typeof usage>;

/** LiteLLM's response kept on every action the model asked for. */
const toolCallMetadata = z.object({
  function_name: z.string().min(1),
  tool_call_id: z.string().min(1),
  model_response: z
    .object({
      id: z.string().min(1),
      model: z.string().nullish(),
      choices: z
        .array(
          z.object({
            message: z
              .object({
                content: z.string().nullish(),
                tool_calls: z
                  .array(
                    z.object({
                      id: z.string(),
                      function: z.object({ arguments: z.string().nullish() }).loose(),
                    }),
                  )
                  .nullish(),
              })
              .loose(),
          }),
        )
        .default([]),
      usage: usage.nullish(),
    })
    .loose()
    .nullish(),
});

/** One trajectory event: an action (`action`) or an observation of one (`observation`, `cause`). */
export const openHandsEvent = z.object({
  id: z.number().int(),
  source: z.string().nullish(),
  message: z.string().nullish(),
  action: z.string().optional(),
  observation: z.string().optional(),
  cause: z.number().int().nullish(),
  content: z.unknown().optional(),
  args: z.record(z.string(), z.unknown()).nullish(),
  extras: z.record(z.string(), z.unknown()).nullish(),
  tool_call_metadata: toolCallMetadata.nullish(),
});
export type OpenHandsEvent = z.infer<typeof openHandsEvent>;
