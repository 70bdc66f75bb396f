import { PROTOCOL_VERSION } from '@kiln/protocol';
import { Hono } from 'hono';
import type { AppEnv } from '../http';

/**
 * `GET /api/health`: whether D1 answers and how fast. Each session's D1 lag (events committed in
 * its log but not yet projected) is at `GET /api/sessions/:id/health`.
 */
export const health = new Hono<AppEnv>().get('/health', async (c) => {
  const started = Date.now();
  try {
    await c.env.DB.prepare('SELECT 1').first();
    return c.json({
      ok: true,
      protocolVersion: PROTOCOL_VERSION,
      d1: { ok: true, latencyMs: Date.now() - started },
    });
  } catch (error) {
    console.error('health: D1 unreachable', error);
    return c.json(
      { ok: false, protocolVersion: PROTOCOL_VERSION, d1: { ok: false, latencyMs: null } },
      503,
    );
  }
});
