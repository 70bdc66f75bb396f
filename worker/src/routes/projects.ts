import {
  type BuildLease,
  createBuildRequest,
  PROTOCOL_VERSION,
  type ProjectSession,
  type ProjectSummary,
  projectRole as projectRoleSchema,
  type SendMessageResponse,
  type SessionState,
  sendMessageRequest,
  sessionStatus,
} from '@kiln/protocol';
import { and, asc, desc, eq, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { z } from 'zod';
import { projectRole, requireOwner, requireWriter } from '../auth/access';
import { requirePrincipal } from '../auth/principal';
import { requireSessionQuota } from '../auth/rate-limits';
import { admitSocket, revokeSockets, socketPrincipalOf } from '../auth/revoke';
import {
  builds,
  generationSessions,
  projectMembers,
  projects as projectsTable,
  users,
} from '../db/schema';
import { type AppEnv, fail, validate } from '../http';
import { publishProjectEvents } from '../project/publish';
import { hubFor } from '../runners/runner-hub';
import {
  NAME_HEADER,
  PRINCIPAL_HEADER,
  PROJECT_HEADER,
  ROLE_HEADER,
} from '../session/session-object';
import { idParam } from './ids';
import { requireNotOwnerOfRecord } from './ownership';

/** Session objects destroyed in parallel when a project is deleted. */
const DESTROY_CONCURRENCY = 8;

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

/** First line of a prompt, as the reducer titles a session. */
function titleFrom(text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 80);
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

/** The account whose runners build a project: its owner. */
async function projectOwner(db: D1Database, projectId: string): Promise<string> {
  const [row] = await drizzle(db)
    .select({ ownerId: projectsTable.ownerId })
    .from(projectsTable)
    .where(eq(projectsTable.id, projectId));
  if (!row) fail(404, 'not-found', `no project ${projectId}`);
  return row.ownerId;
}

/** `/api/projects/*`: projects, members, a project's sessions, messages, builds and channel. */
export const projects = new Hono<AppEnv>()
  .use(requirePrincipal)
  .get('/', async (c) => {
    const rows = await drizzle(c.env.DB)
      .select({
        id: projectsTable.id,
        name: projectsTable.name,
        role: projectMembers.role,
        createdAt: projectsTable.createdAt,
        updatedAt: projectsTable.updatedAt,
      })
      .from(projectMembers)
      .innerJoin(projectsTable, eq(projectsTable.id, projectMembers.projectId))
      .where(eq(projectMembers.userId, c.var.principal.userId))
      .orderBy(desc(projectsTable.updatedAt));
    return c.json({ projects: rows satisfies ProjectSummary[] });
  })
  .post('/', validate('json', z.object({ name: z.string().trim().min(1).max(100) })), async (c) => {
    const { name } = c.req.valid('json');
    const id = crypto.randomUUID();
    const now = Date.now();
    const userId = c.var.principal.userId;
    const db = drizzle(c.env.DB);
    await db.batch([
      db
        .insert(projectsTable)
        .values({ id, name, ownerId: userId, createdAt: now, updatedAt: now }),
      db.insert(projectMembers).values({ projectId: id, userId, role: 'owner', createdAt: now }),
    ]);
    const project: ProjectSummary = { id, name, role: 'owner', createdAt: now, updatedAt: now };
    return c.json(project, 201);
  })
  .get('/:projectId', validate('param', projectParams), async (c) => {
    const { projectId } = c.req.valid('param');
    const role = await projectRole(c.env.DB, projectId, c.var.principal.userId);
    const [row] = await drizzle(c.env.DB)
      .select()
      .from(projectsTable)
      .where(eq(projectsTable.id, projectId));
    if (!row) fail(404, 'not-found', `no project ${projectId}`);
    const project: ProjectSummary = {
      id: row.id,
      name: row.name,
      role,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    };
    return c.json(project);
  })
  .patch(
    '/:projectId',
    validate('param', projectParams),
    validate('json', z.object({ name: z.string().trim().min(1).max(100) })),
    async (c) => {
      const { projectId } = c.req.valid('param');
      const { name } = c.req.valid('json');
      requireWriter(await projectRole(c.env.DB, projectId, c.var.principal.userId));
      await drizzle(c.env.DB)
        .update(projectsTable)
        .set({ name, updatedAt: Date.now() })
        .where(eq(projectsTable.id, projectId));
      await publishProjectEvents(c.env, projectId, [{ type: 'project-renamed', name }]);
      return c.body(null, 204);
    },
  )
  .delete('/:projectId', validate('param', projectParams), async (c) => {
    const { projectId } = c.req.valid('param');
    requireOwner(await projectRole(c.env.DB, projectId, c.var.principal.userId));
    const db = drizzle(c.env.DB);
    const sessions = await db
      .select({ id: generationSessions.id })
      .from(generationSessions)
      .where(eq(generationSessions.projectId, projectId));
    // Bounded work: one indexed pass over the project's open turns (at most
    // MAX_QUEUED_TURNS_PER_PROJECT), then each session object is destroyed, a few at a time.
    const hub = await hubFor(c.env, await projectOwner(c.env.DB, projectId));
    await hub.cancelProject(projectId);
    for (let i = 0; i < sessions.length; i += DESTROY_CONCURRENCY) {
      await Promise.all(
        sessions
          .slice(i, i + DESTROY_CONCURRENCY)
          .map((s) => c.env.SESSIONS.getByName(s.id).destroy()),
      );
    }
    await db.delete(builds).where(eq(builds.projectId, projectId));
    await db.delete(projectsTable).where(eq(projectsTable.id, projectId));
    await c.env.PROJECTS.getByName(projectId).destroy();
    return c.body(null, 204);
  })
  .get('/:projectId/members', validate('param', projectParams), async (c) => {
    const { projectId } = c.req.valid('param');
    await projectRole(c.env.DB, projectId, c.var.principal.userId);
    const members = await drizzle(c.env.DB)
      .select({ userId: users.id, email: users.email, name: users.name, role: projectMembers.role })
      .from(projectMembers)
      .innerJoin(users, eq(users.id, projectMembers.userId))
      .where(eq(projectMembers.projectId, projectId))
      .orderBy(asc(projectMembers.createdAt));
    return c.json({ members });
  })
  .put(
    '/:projectId/members',
    validate('param', projectParams),
    validate('json', z.object({ email: z.string().email(), role: projectRoleSchema })),
    async (c) => {
      const { projectId } = c.req.valid('param');
      const { email, role } = c.req.valid('json');
      requireOwner(await projectRole(c.env.DB, projectId, c.var.principal.userId));
      const db = drizzle(c.env.DB);
      const [user] = await db.select().from(users).where(eq(users.email, email.toLowerCase()));
      if (!user) fail(404, 'not-found', `nobody has signed up as ${email}`);
      if (user.id === c.var.principal.userId)
        fail(409, 'conflict', 'you cannot change your own role');
      if (role !== 'owner') await requireNotOwnerOfRecord(c.env.DB, projectId, user.id);
      await db
        .insert(projectMembers)
        .values({ projectId, userId: user.id, role, createdAt: Date.now() })
        .onConflictDoUpdate({
          target: [projectMembers.projectId, projectMembers.userId],
          set: { role },
        });
      const member = { userId: user.id, email: user.email, name: user.name, role };
      await revokeSockets(c.env, { kind: 'role-changed', projectId, userId: user.id, role });
      await publishProjectEvents(c.env, projectId, [{ type: 'member-updated', member }]);
      return c.json(member);
    },
  )
  .delete(
    '/:projectId/members/:userId',
    validate('param', z.object({ projectId: idParam, userId: idParam })),
    async (c) => {
      const { projectId, userId } = c.req.valid('param');
      requireOwner(await projectRole(c.env.DB, projectId, c.var.principal.userId));
      if (userId === c.var.principal.userId)
        fail(409, 'conflict', 'an owner cannot remove themself');
      await requireNotOwnerOfRecord(c.env.DB, projectId, userId);
      await drizzle(c.env.DB)
        .delete(projectMembers)
        .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)));
      await revokeSockets(c.env, { kind: 'member-removed', projectId, userId });
      await publishProjectEvents(c.env, projectId, [{ type: 'member-removed', userId }]);
      return c.body(null, 204);
    },
  )
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
      const messageId = `msg_${clientMessageId}`; // as SessionObject.appendUserMessage names it
      const refusal = await hub.admit({ sessionId, messageId, projectId, accountId });
      if (refusal) fail(429, 'rate-limited', refusal);
      const { created: sessionCreated } = await ensureSession(c.env, projectId, sessionId, {
        agent,
        model,
        title: titleFrom(text),
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
  .get('/:projectId/ws', validate('param', projectParams), async (c) => {
    const { projectId } = c.req.valid('param');
    const role = await projectRole(c.env.DB, projectId, c.var.principal.userId);
    if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') {
      fail(426, 'bad-request', 'expected a WebSocket upgrade');
    }
    const headers = new Headers(c.req.raw.headers);
    headers.set(PROJECT_HEADER, projectId);
    headers.set(PRINCIPAL_HEADER, `user:${c.var.principal.userId}`);
    headers.set(ROLE_HEADER, role);
    headers.set(NAME_HEADER, c.var.principal.name || c.var.principal.email);
    const access = socketPrincipalOf(c.var.principal, role);
    await admitSocket(c.env, headers, access, `project:${projectId}`, projectId);
    return c.env.PROJECTS.getByName(projectId).fetch(new Request(c.req.raw, { headers }));
  })
  .post(
    '/:projectId/sessions/:sessionId/builds',
    validate('param', sessionParams),
    validate('json', createBuildRequest),
    async (c) => {
      const { projectId, sessionId } = c.req.valid('param');
      const { agent, model } = c.req.valid('json');
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
      const { buildId, leaseExpiresAt } = await session.leaseBuild(holder, agent, model);
      await drizzle(c.env.DB).insert(builds).values({
        id: buildId,
        sessionId,
        projectId,
        holder,
        agent,
        model,
        status: 'leased',
        leaseExpiresAt,
        createdAt: Date.now(),
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
