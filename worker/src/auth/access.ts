import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { generationSessions, projectMembers } from '../db/schema';
import { fail } from '../http';

export type Role = 'owner' | 'editor' | 'viewer';

/** The caller's role in a project, or 403 when not a member. */
export async function projectRole(
  db: D1Database,
  projectId: string,
  userId: string,
): Promise<Role> {
  const rows = await drizzle(db)
    .select({ role: projectMembers.role })
    .from(projectMembers)
    .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)))
    .limit(1);
  const role = rows[0]?.role;
  if (!role) fail(403, 'forbidden', 'you are not a member of this project');
  return role;
}

/** A session's project and the caller's role in it: 404 for an unknown session, 403 for a non-member. */
export async function sessionAccess(
  db: D1Database,
  sessionId: string,
  userId: string,
): Promise<{ projectId: string; role: Role }> {
  const rows = await drizzle(db)
    .select({ projectId: generationSessions.projectId })
    .from(generationSessions)
    .where(eq(generationSessions.id, sessionId))
    .limit(1);
  const projectId = rows[0]?.projectId;
  if (!projectId) fail(404, 'not-found', `no session ${sessionId}`);
  return { projectId, role: await projectRole(db, projectId, userId) };
}

/** 403 unless the role may change things (send, interrupt, ingest). */
export function requireWriter(role: Role): void {
  if (role === 'viewer') fail(403, 'forbidden', 'viewers can watch but not change this project');
}

/** 403 unless the caller owns the project (delete it, manage members). */
export function requireOwner(role: Role): void {
  if (role !== 'owner') fail(403, 'forbidden', 'only the project owner may do this');
}

/**
 * Re-checks, for a write frame on a live socket (send, interrupt, ingest hello), that the person
 * may still write: their current role in D1, or why not (`removed`, `viewer`).
 */
export async function currentWriteAccess(
  db: D1Database,
  projectId: string,
  userId: string,
): Promise<{ ok: true; role: Role } | { ok: false; why: 'removed' | 'viewer' }> {
  const row = await db
    .prepare('SELECT role FROM project_members WHERE project_id = ? AND user_id = ?')
    .bind(projectId, userId)
    .first<{ role: Role }>();
  if (!row) return { ok: false, why: 'removed' };
  if (row.role === 'viewer') return { ok: false, why: 'viewer' };
  return { ok: true, role: row.role };
}
