import { PROTOCOL_VERSION } from '@kiln/protocol';
import { Hono } from 'hono';
import type { AppEnv } from '../http';

/**
 * `GET /api/health`: whether D1 answers and how fast, and the D1 write-through lag across
 * sessions (`writeThrough`: how many sessions are behind because D1 writes failed, the largest
 * lag in events, and the ten worst). Each session's own lag is at `GET /api/sessions/:id/health`.
 * 503 when D1 does not answer.
 */
export const health = new Hono<AppEnv>().get('/health', async (c) => {
  const writeThrough = await c.env.WRITE_THROUGH_HEALTH.getByName('global').summary();
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
