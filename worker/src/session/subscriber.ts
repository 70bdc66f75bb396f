import type { Viewer } from '@kiln/protocol';

/** Headers the worker sets after authenticating a socket upgrade (never trusted from clients). */
export const PRINCIPAL_HEADER = 'x-kiln-principal';
export const ROLE_HEADER = 'x-kiln-role';
export const NAME_HEADER = 'x-kiln-name';
export const SESSION_HEADER = 'x-kiln-session';
export const PROJECT_HEADER = 'x-kiln-project';
/** Set by a SessionDO when it hands a subscriber to one of its viewer shards. */
export const SHARD_INDEX_HEADER = 'x-kiln-shard-index';

/** What a subscriber socket carries through hibernation. */
export interface SubscriberAttachment {
  role: 'subscriber';
  viewerId: string;
  principal: string;
  displayName: string;
  canWrite: boolean;
  /** ms epoch when it connected. */
  since: number;
  /** True once `hello` was answered: from then on it receives every live batch. */
  ready: boolean;
  badFrames: number;
  /** On a viewer shard: the session it watches and the shard's index. */
  sessionId?: string;
  shardIndex?: number;
}

/** A new subscriber's attachment from the worker's headers. */
export function subscriberAttachment(init: {
  principal: string;
  displayName: string | null;
  role: string | null;
  sessionId?: string;
  shardIndex?: number;
}): SubscriberAttachment {
  return {
    role: 'subscriber',
    viewerId: crypto.randomUUID(),
    principal: init.principal,
    displayName: init.displayName ?? init.principal,
    canWrite: init.role !== 'viewer',
    since: Date.now(),
    ready: false,
    badFrames: 0,
    ...(init.sessionId === undefined ? {} : { sessionId: init.sessionId }),
    ...(init.shardIndex === undefined ? {} : { shardIndex: init.shardIndex }),
  };
}

export function viewerOf(attachment: SubscriberAttachment): Viewer {
  return {
    viewerId: attachment.viewerId,
    displayName: attachment.displayName,
    since: attachment.since,
  };
}

export function sendQuietly(ws: WebSocket, frame: string): void {
  try {
    ws.send(frame);
  } catch {
    // The socket closed between the check and the send; its close handler cleans up.
  }
}

export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed: nothing left to do.
  }
}
