import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { z } from 'zod';
import { notFoundProject, projectRole } from '../auth/access';
import { requirePrincipal } from '../auth/principal';
import { revokeSockets } from '../auth/revoke';
import { projectMembers, projects, users } from '../db/schema';
import { type AppEnv, fail, validate } from '../http';
import { publishProjectEvents } from '../project/publish';
import { hubFor } from '../runners/hub-routing';
import { idParam } from './ids';

/** The account that owns a project (`projects.owner_id`: whose runners build it), or 404. */
export async function projectOwner(db: D1Database, projectId: string): Promise<string> {
  const [row] = await drizzle(db)
    .select({ ownerId: projects.ownerId })
    .from(projects)
    .where(eq(projects.id, projectId));
  if (!row) notFoundProject(projectId);
  return row.ownerId;
}

/**
 * 409 when a member change (removal, new role) would touch the project's owner of record: a
 * co-owner may not remove or demote the account whose runners build the project while
 * `owner_id` stays theirs. Ownership moves only by `POST /api/projects/:id/owner`.
 */
export async function requireNotOwnerOfRecord(
  db: D1Database,
  projectId: string,
  userId: string,
): Promise<void> {
  if ((await projectOwner(db, projectId)) === userId) {
    fail(409, 'conflict', 'this member owns the project; transfer ownership first');
  }
}

/**
 * `POST /api/projects/:projectId/owner {userId}`: the owner of record hands the project to another
 * member. The new owner's role becomes `owner` and `owner_id` theirs, so from then on their
 * runners (or the shared hub) build it; the previous owner stays a member with role `owner`
 * (a co-owner the new owner may demote or remove). Refused with 409 while the project has turns
 * queued or running on the current owner's hub (they would be stranded on the old hub), and with
 * 404 when `userId` is not a member. Only the owner of record may transfer: 403 for co-owners.
 */
export const ownership = new Hono<AppEnv>().post(
  '/:projectId/owner',
  requirePrincipal,
  validate('param', z.object({ projectId: idParam })),
  validate('json', z.object({ userId: idParam })),
  async (c) => {
    const { projectId } = c.req.valid('param');
    const { userId } = c.req.valid('json');
    const caller = c.var.principal.userId;
    await projectRole(c.env.DB, projectId, caller); // 404 for strangers, as every project route
    const ownerId = await projectOwner(c.env.DB, projectId);
    if (ownerId !== caller) fail(403, 'forbidden', 'only the owner of record may transfer');
    if (userId === caller) fail(409, 'conflict', 'you already own this project');
    const db = drizzle(c.env.DB);
    const [member] = await db
      .select({ userId: users.id, email: users.email, name: users.name })
      .from(projectMembers)
      .innerJoin(users, eq(users.id, projectMembers.userId))
      .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)));
    if (!member) fail(404, 'not-found', `no member ${userId} in this project`);
    const open = await (await hubFor(c.env, ownerId)).openTurns(projectId);
    if (open > 0) {
      fail(409, 'conflict', `the project has ${open} turns queued or running; transfer when done`);
    }
    // One batch: owner_id and the new owner's role change together (D1 runs a batch atomically),
    // and only while owner_id is still the caller's (a concurrent transfer changes nothing).
    await c.env.DB.batch([
      c.env.DB.prepare(
        "UPDATE project_members SET role = 'owner' WHERE project_id = ? AND user_id = ? AND EXISTS (SELECT 1 FROM projects WHERE id = ? AND owner_id = ?)",
      ).bind(projectId, userId, projectId, caller),
      c.env.DB.prepare(
        'UPDATE projects SET owner_id = ?, updated_at = ? WHERE id = ? AND owner_id = ?',
      ).bind(userId, Date.now(), projectId, caller),
    ]);
    if ((await projectOwner(c.env.DB, projectId)) !== userId) {
      fail(409, 'conflict', 'the project changed owner meanwhile');
    }
    const updated = { ...member, role: 'owner' as const };
    // Their live sockets take the new role (no socket loses access: owner only adds rights).
    await revokeSockets(c.env, { kind: 'role-changed', projectId, userId, role: 'owner' });
    await publishProjectEvents(c.env, projectId, [{ type: 'member-updated', member: updated }]);
    return c.json({ projectId, ownerId: userId, member: updated });
  },
);
