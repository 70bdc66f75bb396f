import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { generationSessions, projectMembers } from '../db/schema';
import { fail } from '../http';

export type Role = 'owner' | 'editor' | 'viewer';

/** The caller's role in a project, or the 404 of `notFoundProject` when not a member. */
export async function projectRole(
  db: D1Database,
  projectId: string,
  userId: string,
): Promise<Role> {
  const role = await memberRole(db, projectId, userId);
  if (!role) notFoundProject(projectId);
  return role;
}

/**
 * A session's project and the caller's role in it. "No such session" and "not yours" answer the
 * same 404 (`notFoundSession`), so a stranger cannot tell which session ids exist.
 */
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
  const role = projectId ? await memberRole(db, projectId, userId) : undefined;
  if (!projectId || !role) notFoundSession(sessionId);
  return { projectId, role };
}

/** The one answer for an unknown project and for a project the caller is not a member of. */
export function notFoundProject(projectId: string): never {
  fail(404, 'not-found', `no project ${projectId}`);
}

/** The one answer for an unknown session and for a session the caller may not see. */
function notFoundSession(sessionId: string): never {
  fail(404, 'not-found', `no session ${sessionId}`);
}

async function memberRole(
  db: D1Database,
  projectId: string,
  userId: string,
): Promise<Role | undefined> {
  const rows = await drizzle(db)
    .select({ role: projectMembers.role })
    .from(projectMembers)
    .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)))
    .limit(1);
  return rows[0]?.role;
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
