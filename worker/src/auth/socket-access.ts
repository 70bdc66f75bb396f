import { z } from 'zod';
import type { Role } from './access';

/**
 * Who holds a live socket, and by which credential — kept in each socket's attachment so a
 * revocation can find the sockets it ends without asking D1. Set by the worker after it has
 * authorized the upgrade (header `ACCESS_HEADER`, never trusted from clients).
 */
const socketPrincipal = z.object({
  kind: z.enum(['user', 'runner']),
  /** User id, or runner (token) id. */
  id: z.string().min(1),
  /** The personal access token the socket was opened with (bearer or token cookie), if any. */
  tokenId: z.string().nullable(),
  /** The Better Auth session (cookie sign-in) the socket was opened with, if any. */
  authSessionId: z.string().nullable(),
  /** How the credential came: a cookie credential ends with sign-out, a bearer one does not. */
  via: z.enum(['bearer', 'cookie']),
  /** Role in the project when the socket opened, kept current by `set-role` revocations. */
  role: z.enum(['owner', 'editor', 'viewer']),
});
export type SocketPrincipal = z.infer<typeof socketPrincipal>;

/** Header carrying the JSON `SocketPrincipal` from the worker to a Durable Object. */
export const ACCESS_HEADER = 'x-kiln-access';

/** A change of access that live sockets must follow (closed or downgraded). */
const revocation = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('member-removed'), projectId: z.string(), userId: z.string() }),
  z.object({
    kind: z.literal('role-changed'),
    projectId: z.string(),
    userId: z.string(),
    role: z.enum(['owner', 'editor', 'viewer']),
  }),
  z.object({ kind: z.literal('token-revoked'), userId: z.string(), tokenId: z.string() }),
  /** A browser signed out: its Better Auth session or its token cookie ended. */
  z.object({
    kind: z.literal('signed-out'),
    userId: z.string(),
    authSessionId: z.string().nullable(),
    tokenId: z.string().nullable(),
  }),
  z.object({ kind: z.literal('runner-revoked'), runnerId: z.string() }),
]);
export type Revocation = z.infer<typeof revocation>;

/** Which kind of socket: a session subscriber, a session ingest socket, a project channel. */
export type SocketKind = 'subscriber' | 'ingest' | 'project';

/** What to do with one socket: leave it, close it with a reason, or continue with a new role. */
type SocketVerdict =
  | { kind: 'keep' }
  | { kind: 'close'; reason: string }
  | { kind: 'set-role'; role: Role };

/** Close code for a socket whose access ended (policy violation); the reason says which. */
export const REVOKED_CLOSE_CODE = 1008;

/**
 * What a revocation means for one socket (pure). Removal, token revocation, sign-out and runner
 * revocation close the principal's sockets; a role change closes an ingest socket that may no
 * longer write and otherwise carries the new role (a viewer keeps reading, cannot send).
 * `projectId` is the project of the object holding the socket.
 */
function verdictFor(
  principal: SocketPrincipal,
  socket: SocketKind,
  projectId: string | undefined,
  change: Revocation,
): SocketVerdict {
  const keep = { kind: 'keep' } as const;
  switch (change.kind) {
    case 'member-removed':
      if (!isUser(principal, change.userId) || projectId !== change.projectId) return keep;
      return { kind: 'close', reason: 'access revoked: removed from the project' };
    case 'role-changed': {
      if (!isUser(principal, change.userId) || projectId !== change.projectId) return keep;
      if (socket === 'ingest' && change.role === 'viewer') {
        return { kind: 'close', reason: 'access revoked: role changed to viewer' };
      }
      return change.role === principal.role ? keep : { kind: 'set-role', role: change.role };
    }
    case 'token-revoked':
      if (!isUser(principal, change.userId) || principal.tokenId !== change.tokenId) return keep;
      return { kind: 'close', reason: 'access revoked: token revoked' };
    case 'signed-out': {
      if (!isUser(principal, change.userId)) return keep;
      const session =
        change.authSessionId !== null && principal.authSessionId === change.authSessionId;
      const cookie =
        change.tokenId !== null &&
        principal.via === 'cookie' &&
        principal.tokenId === change.tokenId;
      return session || cookie ? { kind: 'close', reason: 'access revoked: signed out' } : keep;
    }
    case 'runner-revoked':
      if (principal.kind !== 'runner' || principal.id !== change.runnerId) return keep;
      return { kind: 'close', reason: 'access revoked: runner token revoked' };
    default: {
      const unknown: never = change;
      throw new Error(`unhandled revocation ${JSON.stringify(unknown)}`);
    }
  }
}

/** The part of a hibernatable socket a revocation touches (a `WebSocket`, or a test fake). */
export interface RevocableSocket {
  deserializeAttachment(): unknown;
  serializeAttachment(value: unknown): void;
  close(code?: number, reason?: string): void;
}

/** An attachment that names its principal (`access`) and, for subscribers, whether it may write. */
export interface AccessAttachment {
  access?: SocketPrincipal;
  canWrite?: boolean;
}

/**
 * Applies a revocation to an object's sockets: closes (`REVOKED_CLOSE_CODE`, the verdict's
 * reason) or re-roles each one it concerns. `kindOf` says what kind a socket is (undefined: not
 * one a person holds). Returns how many it closed and how many sockets of the revoked user stay.
 */
export function applyRevocation<S extends RevocableSocket>(
  sockets: readonly S[],
  kindOf: (attachment: AccessAttachment) => SocketKind | undefined,
  projectId: string | undefined,
  change: Revocation,
): { closed: S[]; remaining: number } {
  const closed: S[] = [];
  let remaining = 0;
  for (const ws of sockets) {
    const attachment = ws.deserializeAttachment() as AccessAttachment | null;
    const kind = attachment ? kindOf(attachment) : undefined;
    if (!attachment?.access || !kind) continue;
    const verdict = verdictFor(attachment.access, kind, projectId, change);
    switch (verdict.kind) {
      case 'keep':
        break;
      case 'close':
        try {
          ws.close(REVOKED_CLOSE_CODE, verdict.reason);
        } catch {
          // Already closing: nothing more to do for this socket.
        }
        closed.push(ws);
        continue;
      case 'set-role':
        ws.serializeAttachment({
          ...attachment,
          access: { ...attachment.access, role: verdict.role },
          ...('canWrite' in attachment ? { canWrite: verdict.role !== 'viewer' } : {}),
        });
        break;
      default: {
        const unknown: never = verdict;
        throw new Error(`unhandled verdict ${JSON.stringify(unknown)}`);
      }
    }
    if ('userId' in change && isUser(attachment.access, change.userId)) remaining++;
  }
  return { closed, remaining };
}

/** The socket principal from the worker's header; undefined when absent or malformed. */
export function accessFromHeaders(headers: Headers): SocketPrincipal | undefined {
  const raw = headers.get(ACCESS_HEADER);
  if (!raw) return undefined;
  try {
    const parsed = socketPrincipal.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    // Not JSON: treated like a missing header (the DO refuses the upgrade).
    return undefined;
  }
}

function isUser(principal: SocketPrincipal, userId: string): boolean {
  return principal.kind === 'user' && principal.id === userId;
}
