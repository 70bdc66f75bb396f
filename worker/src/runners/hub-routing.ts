import type { Env } from '../env';

/** Name of the hub that shared (hosted) runners join; account hubs are named by user id. */
export const SHARED_HUB = 'shared';

/**
 * The hub that builds a project: its owner's (`projects.owner_id`) when the owner has a runner
 * token of their own, otherwise the shared hub (hosted runners; the dev stack's local runner).
 */
export async function hubFor(env: Env, ownerId: string) {
  const own = await env.DB.prepare(
    'SELECT 1 AS one FROM runner_tokens WHERE user_id = ? AND revoked_at IS NULL AND shared = 0 LIMIT 1',
  )
    .bind(ownerId)
    .first();
  return env.RUNNER_HUBS.getByName(own ? ownerId : SHARED_HUB);
}
