import { errorFrame, type SubscriberRecord, sendQuietly } from '@kiln/channel';
import type { ErrorCode } from '@kiln/protocol';
import type { SocketPrincipal } from '../auth/socket-access';

/** Headers the worker sets after authenticating a socket upgrade (never trusted from clients). */
export const PRINCIPAL_HEADER = 'x-kiln-principal';
export const ROLE_HEADER = 'x-kiln-role';
export const NAME_HEADER = 'x-kiln-name';
export const SESSION_HEADER = 'x-kiln-session';
export const PROJECT_HEADER = 'x-kiln-project';
/** Set by a SessionDO when it hands a subscriber to one of its viewer shards. */
export const SHARD_INDEX_HEADER = 'x-kiln-shard-index';

/** What a subscriber socket carries through hibernation (the channel's record and more). */
export interface SubscriberAttachment extends SubscriberRecord {
  role: 'subscriber';
  principal: string;
  canWrite: boolean;
  /** On a viewer shard: the session it watches, its project and the shard's index. */
  sessionId?: string;
  projectId?: string;
  shardIndex?: number;
  /** Who holds the socket and by which credential (revocations find it by this). */
  access?: SocketPrincipal;
}

/** A new subscriber's attachment from the worker's headers. */
export function subscriberAttachment(init: {
  principal: string;
  displayName: string | null;
  role: string | null;
  sessionId?: string;
  projectId?: string;
  shardIndex?: number;
  access?: SocketPrincipal;
}): SubscriberAttachment {
  return {
    role: 'subscriber',
    viewerId: crypto.randomUUID(),
    principal: init.principal,
    displayName: init.displayName ?? init.principal,
    canWrite: (init.access?.role ?? init.role) !== 'viewer',
    since: Date.now(),
    ready: false,
    badFrames: 0,
    ...(init.sessionId === undefined ? {} : { sessionId: init.sessionId }),
    ...(init.projectId === undefined ? {} : { projectId: init.projectId }),
    ...(init.shardIndex === undefined ? {} : { shardIndex: init.shardIndex }),
    ...(init.access === undefined ? {} : { access: init.access }),
  };
}

/** Why a viewer's `send` or `interrupt` is refused. */
export const VIEWER_CANNOT_WRITE = 'viewers can watch but not send or interrupt';

/** Sends an `error` frame. */
export function sendError(
  ws: WebSocket,
  code: ErrorCode,
  message: string,
  fatal: boolean,
  expectedProducerSeq?: number,
): void {
  sendQuietly(ws, JSON.stringify(errorFrame(code, message, fatal, expectedProducerSeq)));
}

/** How many of `sockets` a principal holds (for `MAX_SOCKETS_PER_PRINCIPAL`). */
export function socketsOf(sockets: readonly WebSocket[], principalId: string): number {
  let n = 0;
  for (const ws of sockets) {
    const attachment = ws.deserializeAttachment() as { access?: SocketPrincipal } | null;
    if (attachment?.access?.id === principalId) n++;
  }
  return n;
}

/** The refusal of an upgrade past `MAX_SOCKETS_PER_PRINCIPAL` (429, before accepting it). */
export function tooManySockets(max: number): Response {
  return Response.json(
    {
      error: {
        code: 'rate-limited',
        message: `at most ${max} sockets per person on one session; close one first`,
      },
    },
    { status: 429 },
  );
}
