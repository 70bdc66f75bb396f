import { and, desc, eq, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { z } from 'zod';
import { generateToken, hashToken, requirePrincipal } from '../auth/principal';
import { requireTokenQuota } from '../auth/rate-limits';
import { revokeSockets } from '../auth/revoke';
import { apiTokens } from '../db/schema';
import { type AppEnv, fail, validate } from '../http';
import { idParam } from './ids';

/**
 * `/api/tokens`: the caller's personal access tokens for the CLI. The token itself is returned
 * once, at creation; only its SHA-256 hash is stored. Creation is rate-limited per person
 * (`MAX_TOKEN_REQUESTS_PER_MINUTE`).
 */
export const tokens = new Hono<AppEnv>()
  .use(requirePrincipal)
  .get('/', async (c) => {
    const rows = await drizzle(c.env.DB)
      .select({
        id: apiTokens.id,
        name: apiTokens.name,
        createdAt: apiTokens.createdAt,
        lastUsedAt: apiTokens.lastUsedAt,
      })
      .from(apiTokens)
      .where(and(eq(apiTokens.userId, c.var.principal.userId), isNull(apiTokens.revokedAt)))
      .orderBy(desc(apiTokens.createdAt));
    return c.json({ tokens: rows });
  })
  .post('/', validate('json', z.object({ name: z.string().trim().min(1).max(100) })), async (c) => {
    const { name } = c.req.valid('json');
    await requireTokenQuota(c.env, `create:${c.var.principal.userId}`);
    const token = generateToken();
    const id = crypto.randomUUID();
    const createdAt = Date.now();
    await drizzle(c.env.DB)
      .insert(apiTokens)
      .values({
        id,
        userId: c.var.principal.userId,
        name,
        tokenHash: await hashToken(token),
        createdAt,
      });
    return c.json({ id, name, createdAt, token }, 201);
  })
  .delete('/:tokenId', validate('param', z.object({ tokenId: idParam })), async (c) => {
    const { tokenId } = c.req.valid('param');
    const revoked = await drizzle(c.env.DB)
      .update(apiTokens)
      .set({ revokedAt: Date.now() })
      .where(
        and(
          eq(apiTokens.id, tokenId),
          eq(apiTokens.userId, c.var.principal.userId),
          isNull(apiTokens.revokedAt),
        ),
      )
      .returning({ id: apiTokens.id });
    if (revoked.length === 0) fail(404, 'not-found', `no token ${tokenId}`);
    await revokeSockets(c.env, { kind: 'token-revoked', userId: c.var.principal.userId, tokenId });
    return c.body(null, 204);
  });
