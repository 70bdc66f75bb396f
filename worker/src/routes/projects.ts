import { type ProjectSummary, projectRole as projectRoleSchema } from '@kiln/protocol';
import { and, asc, desc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { z } from 'zod';
import { projectRole, requireOwner, requireWriter } from '../auth/access';
import { requirePrincipal } from '../auth/principal';
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
import { deployments } from './deployments';
import { idParam } from './ids';
import { projectOwner, requireNotOwnerOfRecord } from './ownership';
import { projectSessions } from './project-sessions';

/** Session objects destroyed in parallel when a project is deleted. */
const DESTROY_CONCURRENCY = 8;

const projectParams = z.object({ projectId: idParam });

/**
 * `/api/projects/*`: projects, their members and the project channel; a project's sessions,
 * messages and builds (`project-sessions.ts`) and its versions and deployment (`deployments.ts`)
 * are mounted here, behind the one `requirePrincipal`.
 */
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
  .route('/', projectSessions)
  .route('/', deployments);
