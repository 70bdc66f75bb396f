import {
  type BuildLease,
  createBuildRequest,
  PROTOCOL_VERSION,
  type ProjectSession,
  type SendMessageResponse,
  type SessionState,
  sendMessageRequest,
  sessionStatus,
  titleFromPrompt,
  userMessageId,
} from '@kiln/protocol';
import { and, asc, eq, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { z } from 'zod';
import { projectRole, requireWriter } from '../auth/access';
import { requireSessionQuota } from '../auth/rate-limits';
import { builds, generationSessions } from '../db/schema';
import { type AppEnv, fail, validate } from '../http';
import { publishProjectEvents } from '../project/publish';
import { hubFor } from '../runners/runner-hub';
import { idParam } from './ids';
import { projectOwner } from './ownership';

const projectParams = z.object({ projectId: idParam });
const sessionParams = z.object({ projectId: idParam, sessionId: idParam });
type SessionRow = typeof generationSessions.$inferSelect;

/** The list item of a session row. */
function toProjectSession(row: SessionRow): ProjectSession {
  const status = sessionStatus.safeParse(row.status);
  return {
    sessionId: row.id,
    title: row.title,
    status: status.success ? status.data : 'idle',
    agent: row.agent,
    model: row.model,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    archived: row.archivedAt !== null,
    messageCount: row.messageCount,
    totalTokens: row.totalTokens,
    lastMessageAt: row.lastMessageAt,
    firstMessagePreview: row.firstMessagePreview,
  };
}

/**
 * Creates the session row if it is new (deferred creation) and returns it; 404 when the id
 * belongs to another project (as for any session not yours), 429 past `MAX_SESSIONS_PER_MINUTE`.
 * `created` says whether this call made it.
 */
async function ensureSession(
  env: AppEnv['Bindings'],
  projectId: string,
  sessionId: string,
  fields: {
    agent: string;
    model: string;
    title: string;
    createdBy: string | null;
    preview: string | null;
  },
): Promise<{ row: SessionRow; created: boolean }> {
  if (fields.createdBy) await requireSessionQuota(env.DB, fields.createdBy, sessionId);
  const db = drizzle(env.DB);
  const now = Date.now();
  const inserted = await db
    .insert(generationSessions)
    .values({
      id: sessionId,
      projectId,
      status: 'idle',
      agent: fields.agent,
      model: fields.model,
      title: fields.title,
      createdBy: fields.createdBy,
      firstMessagePreview: fields.preview,
      protocolVersion: PROTOCOL_VERSION,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning({ id: generationSessions.id });
  const [row] = await db
    .select()
    .from(generationSessions)
    .where(eq(generationSessions.id, sessionId));
  if (!row || row.projectId !== projectId)
    fail(404, 'not-found', `no session ${sessionId} in this project`); // alike: not yours = none
  const created = inserted.length > 0;
  await env.SESSIONS.getByName(sessionId).init(sessionId, projectId);
  if (created) {
    await publishProjectEvents(env, projectId, [
      { type: 'session-created', session: toProjectSession(row) },
    ]);
  }
  return { row, created };
}

/** The session row of a project, or 404. */
async function sessionIn(
  db: D1Database,
  projectId: string,
  sessionId: string,
): Promise<SessionRow> {
  const [row] = await drizzle(db)
    .select()
    .from(generationSessions)
    .where(and(eq(generationSessions.id, sessionId), eq(generationSessions.projectId, projectId)));
  if (!row) fail(404, 'not-found', `no session ${sessionId} in this project`);
  return row;
}

/**
 * `/api/projects/:projectId/sessions/*`: a project's sessions — the list, messages (deferred
 * creation: the first one creates the session), rename / archive, delete, interrupt — and build
 * leases for producers. Mounted by `projects`, whose `requirePrincipal` has run before these.
 */
export const projectSessions = new Hono<AppEnv>()
  .get(
    '/:projectId/sessions',
    validate('param', projectParams),
    validate('query', z.object({ archived: z.enum(['0', '1']).default('0') })),
    async (c) => {
      const { projectId } = c.req.valid('param');
      const { archived } = c.req.valid('query');
      await projectRole(c.env.DB, projectId, c.var.principal.userId);
      const rows = await drizzle(c.env.DB)
        .select()
        .from(generationSessions)
        .where(
          and(
            eq(generationSessions.projectId, projectId),
            archived === '1' ? undefined : isNull(generationSessions.archivedAt),
          ),
        )
        .orderBy(asc(generationSessions.createdAt), asc(generationSessions.id));
      return c.json({ sessions: rows.map(toProjectSession) });
    },
  )
  .post(
    '/:projectId/sessions/:sessionId/messages',
    validate('param', sessionParams),
    validate('json', sendMessageRequest),
    async (c) => {
      const { projectId, sessionId } = c.req.valid('param');
      const { clientMessageId, text, agent, model, permissionMode } = c.req.valid('json');
      const principal = c.var.principal;
      requireWriter(await projectRole(c.env.DB, projectId, principal.userId));
      // Refused before anything is stored: a project or account at its queue cap gets 429.
      const accountId = await projectOwner(c.env.DB, projectId);
      const hub = await hubFor(c.env, accountId);
      const messageId = userMessageId(clientMessageId);
      const refusal = await hub.admit({ sessionId, messageId, projectId, accountId });
      if (refusal) fail(429, 'rate-limited', refusal);
      const { created: sessionCreated } = await ensureSession(c.env, projectId, sessionId, {
        agent,
        model,
        title: titleFromPrompt(text),
        createdBy: principal.userId,
        preview: text.slice(0, 200),
      });
      const session = c.env.SESSIONS.getByName(sessionId);
      const message = await session.appendUserMessage(
        clientMessageId,
        text,
        `user:${principal.userId}`,
      );
      // Always hand the turn to the hub: it is idempotent on the message id, so a retry after a
      // failure between the append and here still dispatches exactly once.
      await hub.enqueue({
        messageId: message.messageId,
        sessionId,
        projectId,
        accountId,
        prompt: text,
        agent,
        model,
        ...(permissionMode ? { permissionMode } : {}),
      });
      if (message.created && !sessionCreated) {
        // RPC typing flattens SessionState to never (its JSON fields); the value is the state.
        const state = (await session.getState()) as SessionState | null;
        await publishProjectEvents(c.env, projectId, [
          {
            type: 'session-updated',
            sessionId,
            changes: { messageCount: state?.messages.length ?? 0, lastMessageAt: Date.now() },
          },
        ]);
      }
      const body: SendMessageResponse = {
        sessionId,
        messageId: message.messageId,
        seq: message.seq,
        created: message.created,
        sessionCreated,
      };
      return c.json(body, message.created ? 201 : 200);
    },
  )
  .patch(
    '/:projectId/sessions/:sessionId',
    validate('param', sessionParams),
    validate(
      'json',
      z.object({
        title: z.string().trim().min(1).max(200).optional(),
        archived: z.boolean().optional(),
      }),
    ),
    async (c) => {
      const { projectId, sessionId } = c.req.valid('param');
      const { title, archived } = c.req.valid('json');
      requireWriter(await projectRole(c.env.DB, projectId, c.var.principal.userId));
      await sessionIn(c.env.DB, projectId, sessionId);
      const set: Partial<SessionRow> = { updatedAt: Date.now() };
      if (title !== undefined) {
        set.title = title;
        await c.env.SESSIONS.getByName(sessionId).rename(title);
      }
      if (archived !== undefined) set.archivedAt = archived ? Date.now() : null;
      await drizzle(c.env.DB)
        .update(generationSessions)
        .set(set)
        .where(eq(generationSessions.id, sessionId));
      await publishProjectEvents(c.env, projectId, [
        { type: 'session-updated', sessionId, changes: { title, archived } },
      ]);
      return c.body(null, 204);
    },
  )
  .delete('/:projectId/sessions/:sessionId', validate('param', sessionParams), async (c) => {
    const { projectId, sessionId } = c.req.valid('param');
    requireWriter(await projectRole(c.env.DB, projectId, c.var.principal.userId));
    await sessionIn(c.env.DB, projectId, sessionId);
    const hub = await hubFor(c.env, await projectOwner(c.env.DB, projectId));
    await hub.cancelSession(sessionId);
    await c.env.SESSIONS.getByName(sessionId).destroy();
    await drizzle(c.env.DB).delete(generationSessions).where(eq(generationSessions.id, sessionId));
    await publishProjectEvents(c.env, projectId, [{ type: 'session-deleted', sessionId }]);
    return c.body(null, 204);
  })
  .post(
    '/:projectId/sessions/:sessionId/interrupt',
    validate('param', sessionParams),
    async (c) => {
      const { projectId, sessionId } = c.req.valid('param');
      requireWriter(await projectRole(c.env.DB, projectId, c.var.principal.userId));
      await sessionIn(c.env.DB, projectId, sessionId);
      const interrupted = await c.env.SESSIONS.getByName(sessionId).requestInterrupt();
      if (!interrupted) fail(409, 'conflict', 'no turn is running');
      return c.body(null, 202);
    },
  )
  .post(
    '/:projectId/sessions/:sessionId/builds',
    validate('param', sessionParams),
    validate('json', createBuildRequest),
    async (c) => {
      const { projectId, sessionId } = c.req.valid('param');
      const { agent, model, import: imported } = c.req.valid('json');
      const principal = c.var.principal;
      requireWriter(await projectRole(c.env.DB, projectId, principal.userId));
      await ensureSession(c.env, projectId, sessionId, {
        agent,
        model,
        title: '',
        createdBy: principal.userId,
        preview: null,
      });
      const session = c.env.SESSIONS.getByName(sessionId);
      const holder = `user:${principal.userId}`;
      const leased = imported
        ? await session.leaseImportBuild(holder, agent, model)
        : { ...(await session.leaseBuild(holder, agent, model)), ackedProducerSeq: 0 };
      if (!leased) fail(409, 'conflict', `session ${sessionId} was imported by someone else`);
      const { buildId, leaseExpiresAt, ackedProducerSeq } = leased;
      await drizzle(c.env.DB)
        .insert(builds)
        .values({
          id: buildId,
          sessionId,
          projectId,
          holder,
          agent,
          model,
          status: 'leased',
          leaseExpiresAt,
          createdAt: Date.now(),
        })
        // An import build is leased again by every import of the same session.
        .onConflictDoUpdate({ target: builds.id, set: { status: 'leased', leaseExpiresAt } });
      const lease: BuildLease = {
        buildId,
        sessionId,
        projectId,
        leaseExpiresAt,
        ingestPath: `/api/sessions/${sessionId}/ingest`,
        ackedProducerSeq,
      };
      return c.json(lease, 201);
    },
  );
