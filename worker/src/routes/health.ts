import { PROTOCOL_VERSION } from '@kiln/protocol';
import { Hono } from 'hono';
import type { Env } from '../env';
import type { AppEnv } from '../http';

/**
 * `GET /api/health`: whether D1 answers and how fast, and the D1 write-through lag across
 * sessions. Anyone gets the status and the lag numbers (`writeThrough.laggingSessions`,
 * `maxLagEvents`); only the operator — `Authorization: Bearer <OPERATOR_TOKEN>` (a wrangler
 * secret; unset = nobody) — also gets `writeThrough.worst`, the ten worst sessions with their ids
 * and last D1 errors. A person's own session lag is at `GET /api/sessions/:id/health`.
 * 503 when D1 does not answer.
 */
export const health = new Hono<AppEnv>().get('/health', async (c) => {
  const { worst, ...lag } = await c.env.WRITE_THROUGH_HEALTH.getByName('global').summary();
  const writeThrough = (await isOperator(c.env, c.req.header('Authorization')))
    ? { ...lag, worst }
    : lag;
  const started = Date.now();
  try {
    await c.env.DB.prepare('SELECT 1').first();
    return c.json({
      ok: true,
      protocolVersion: PROTOCOL_VERSION,
      d1: { ok: true, latencyMs: Date.now() - started },
      writeThrough,
    });
  } catch (error) {
    console.error('health: D1 unreachable', error);
    return c.json(
      {
        ok: false,
        protocolVersion: PROTOCOL_VERSION,
        d1: { ok: false, latencyMs: null },
        writeThrough,
      },
      503,
    );
  }
});

/** Whether `authorization` is `Bearer <OPERATOR_TOKEN>`, compared in constant time. */
async function isOperator(env: Env, authorization: string | undefined): Promise<boolean> {
  if (!env.OPERATOR_TOKEN || !authorization?.startsWith('Bearer ')) return false;
  // Digests first: timingSafeEqual needs equal lengths, and a digest leaks nothing of the length.
  const digest = (value: string) =>
    crypto.subtle.digest('SHA-256', new TextEncoder().encode(value));
  const [given, expected] = await Promise.all([
    digest(authorization.slice(7).trim()),
    digest(env.OPERATOR_TOKEN),
  ]);
  return crypto.subtle.timingSafeEqual(given, expected);
}
