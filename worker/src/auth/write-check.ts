import { currentWriteAccess } from './access';
import { type AccessAttachment, REVOKED_CLOSE_CODE } from './socket-access';

/**
 * Before a write frame (send, interrupt, a person's ingest hello) on a live socket: re-reads the
 * person's role from D1. A removed member's socket is closed; one that became a viewer is
 * downgraded (keeps reading) and told `forbidden`. Returns whether the write may go ahead.
 * Runner sockets pass: their lease is checked by the session, their token's revocation closes
 * them.
 */
export async function recheckWrite(
  db: D1Database,
  projectId: string,
  ws: WebSocket,
  attachment: AccessAttachment,
  refuse: (message: string) => void,
): Promise<boolean> {
  const access = attachment.access;
  if (!access) return false;
  if (access.kind === 'runner') return true;
  const now = await currentWriteAccess(db, projectId, access.id);
  if (now.ok) return true;
  if (now.why === 'removed') {
    refuse('access revoked: removed from the project');
    try {
      ws.close(REVOKED_CLOSE_CODE, 'access revoked: removed from the project');
    } catch {
      // Already closing.
    }
    return false;
  }
  ws.serializeAttachment({
    ...attachment,
    access: { ...access, role: 'viewer' },
    ...('canWrite' in attachment ? { canWrite: false } : {}),
  });
  refuse('your role in this project is now viewer: you can watch but not change it');
  return false;
}
