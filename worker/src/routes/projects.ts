import { type BuildLease, createBuildRequest, PROTOCOL_VERSION } from '@kiln/protocol';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { z } from 'zod';
import { projectRole, requireWriter } from '../auth/access';
import { requirePrincipal } from '../auth/principal';
import { builds, generationSessions } from '../db/schema';
import { type AppEnv, fail, validate } from '../http';
import { idParam } from './ids';

/** `/api/projects/:projectId/*`. */
export const projects = new Hono<AppEnv>()
  .use(requirePrincipal)
  .post(
    '/:projectId/sessions/:sessionId/builds',
    validate('param', z.object({ projectId: idParam, sessionId: idParam })),
    validate('json', createBuildRequest),
    async (c) => {
      const { projectId, sessionId } = c.req.valid('param');
      const { agent, model } = c.req.valid('json');
      const principal = c.var.principal;
      requireWriter(await projectRole(c.env.DB, projectId, principal.userId));
      const db = drizzle(c.env.DB);
      const now = Date.now();
      // Creates the session row on first use; an existing id must belong to this project.
      await db
        .insert(generationSessions)
        .values({
          id: sessionId,
          projectId,
          status: 'idle',
          agent,
          model,
          protocolVersion: PROTOCOL_VERSION,
          createdAt: now,
          updatedAt: now,
        })
        .onConflictDoNothing();
      const [row] = await db
        .select({ projectId: generationSessions.projectId })
        .from(generationSessions)
        .where(eq(generationSessions.id, sessionId));
      if (row?.projectId !== projectId)
        fail(409, 'conflict', `session ${sessionId} belongs to another project`);

      const session = c.env.SESSIONS.getByName(sessionId);
      await session.init(sessionId, projectId);
      const holder = `user:${principal.userId}`;
      const { buildId, leaseExpiresAt } = await session.leaseBuild(holder, agent, model);
      await db.insert(builds).values({
        id: buildId,
        sessionId,
        projectId,
        holder,
        agent,
        model,
        status: 'leased',
        leaseExpiresAt,
        createdAt: now,
      });
      const lease: BuildLease = {
        buildId,
        sessionId,
        projectId,
        leaseExpiresAt,
        ingestPath: `/api/sessions/${sessionId}/ingest`,
      };
      return c.json(lease, 201);
    },
  );
