import type { RunnerInfo } from '@kiln/protocol';
import { and, desc, eq, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { z } from 'zod';
import {
  generateToken,
  hashToken,
  RUNNER_TOKEN_PREFIX,
  requirePrincipal,
  requireRunner,
} from '../auth/principal';
import { revokeSockets } from '../auth/revoke';
import { runnerTokens } from '../db/schema';
import { type AppEnv, fail, validate } from '../http';
import { RUNNER_ID_HEADER, RUNNER_NAME_HEADER, SHARED_HUB } from '../runners/runner-hub';
import { idParam } from './ids';

/**
 * `/api/runners`: the caller's runners (one runner token each, hash only), and the runners'
 * control socket `GET /api/runners/connect` to the account's RunnerHubDO.
 */
export const runners = new Hono<AppEnv>()
  .get('/connect', requireRunner, async (c) => {
    if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') {
      fail(426, 'bad-request', 'expected a WebSocket upgrade');
    }
    const runner = c.var.runner;
    await c.env.DB.prepare('UPDATE runner_tokens SET last_used_at = ? WHERE id = ?')
      .bind(Date.now(), runner.runnerId)
      .run();
    const headers = new Headers(c.req.raw.headers);
    headers.set(RUNNER_ID_HEADER, runner.runnerId);
    headers.set(RUNNER_NAME_HEADER, runner.name);
    const hub = runner.shared ? SHARED_HUB : runner.userId;
    return c.env.RUNNER_HUBS.getByName(hub).fetch(new Request(c.req.raw, { headers }));
  })
  .use(requirePrincipal)
  .get('/', async (c) => {
    const userId = c.var.principal.userId;
    const rows = await drizzle(c.env.DB)
      .select()
      .from(runnerTokens)
      .where(and(eq(runnerTokens.userId, userId), isNull(runnerTokens.revokedAt)))
      .orderBy(desc(runnerTokens.createdAt));
    const { live, lastSeen } = await c.env.RUNNER_HUBS.getByName(userId).listRunners();
    const list: RunnerInfo[] = rows.map((row) => {
      const connected = live.find((r) => r.runnerId === row.id);
      return {
        runnerId: row.id,
        name: row.name,
        connected: Boolean(connected),
        version: connected?.version ?? null,
        agents: connected?.agents ?? [],
        capacity: connected?.capacity ?? 0,
        activeBuilds: connected?.activeBuilds ?? [],
        lastSeenAt: connected?.lastSeenAt ?? lastSeen[row.id] ?? row.lastUsedAt,
        createdAt: row.createdAt,
      };
    });
    return c.json({ runners: list });
  })
  .post('/', validate('json', z.object({ name: z.string().trim().min(1).max(100) })), async (c) => {
    const { name } = c.req.valid('json');
    const token = generateToken(RUNNER_TOKEN_PREFIX);
    const runnerId = crypto.randomUUID();
    const createdAt = Date.now();
    await drizzle(c.env.DB)
      .insert(runnerTokens)
      .values({
        id: runnerId,
        userId: c.var.principal.userId,
        name,
        tokenHash: await hashToken(token),
        createdAt,
      });
    return c.json({ runnerId, name, createdAt, token }, 201);
  })
  .delete('/:runnerId', validate('param', z.object({ runnerId: idParam })), async (c) => {
    const { runnerId } = c.req.valid('param');
    const userId = c.var.principal.userId;
    const revoked = await drizzle(c.env.DB)
      .update(runnerTokens)
      .set({ revokedAt: Date.now() })
      .where(
        and(
          eq(runnerTokens.id, runnerId),
          eq(runnerTokens.userId, userId),
          isNull(runnerTokens.revokedAt),
        ),
      )
      .returning({ id: runnerTokens.id, shared: runnerTokens.shared });
    const [token] = revoked;
    if (!token) fail(404, 'not-found', `no runner ${runnerId}`);
    // A shared runner is connected to the shared hub, not its account's.
    await c.env.RUNNER_HUBS.getByName(token.shared ? SHARED_HUB : userId).disconnect(runnerId);
    await revokeSockets(c.env, { kind: 'runner-revoked', runnerId });
    return c.body(null, 204);
  });
