import { closeQuietly, sendQuietly, TokenBucket } from '@kiln/channel';
import {
  type ClientFrame,
  clientFrame,
  type ErrorCode,
  MAX_BAD_FRAMES,
  MAX_CLIENT_FRAMES_PER_SECOND,
  MAX_FRAME_BYTES,
  parseFrame,
  type Viewer,
} from '@kiln/protocol';
import type { SocketPrincipal } from '../auth/socket-access';
import type { CatchUpBudget } from './catch-up-budget';

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
  /** On a viewer shard: the session it watches, its project and the shard's index. */
  sessionId?: string;
  projectId?: string;
  shardIndex?: number;
  /** Who holds the socket and by which credential (revocations find it by this). */
  access?: SocketPrincipal;
  /** What catch-ups this socket may still ask for (`hello`), in bytes. */
  catchUpBudget?: CatchUpBudget;
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

export function viewerOf(attachment: SubscriberAttachment): Viewer {
  return {
    viewerId: attachment.viewerId,
    displayName: attachment.displayName,
    since: attachment.since,
  };
}

/** The `lagging` error's text (PROTOCOL.md §2, flow control). */
export const LAGGING_MESSAGE =
  'you are reading slower than the session streams; a snapshot follows when you catch up';

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
  sendQuietly(ws, JSON.stringify({ type: 'error', code, message, fatal, expectedProducerSeq }));
}

/**
 * Answers a refused frame with `error` (nothing of it is applied); the socket's
 * `MAX_BAD_FRAMES + 1`th refusal is fatal and closes it with 1008.
 */
export function refuseFrame(
  ws: WebSocket,
  attachment: { badFrames: number },
  code: ErrorCode,
  message: string,
): void {
  const badFrames = attachment.badFrames + 1;
  if (badFrames > MAX_BAD_FRAMES) {
    sendError(ws, code, `${message}; too many bad frames`, true);
    closeQuietly(ws, 1008, 'too many bad frames');
    return;
  }
  ws.serializeAttachment({ ...attachment, badFrames });
  sendError(ws, code, message, false);
}

/** The frame as text if it is text under `MAX_FRAME_BYTES`; otherwise refused (undefined). */
export function frameText(
  ws: WebSocket,
  attachment: { badFrames: number },
  message: string | ArrayBuffer,
): string | undefined {
  if (typeof message !== 'string') {
    refuseFrame(ws, attachment, 'bad-frame', 'frames must be JSON text');
    return undefined;
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes; only count when it could matter.
  const bytes =
    message.length * 3 <= MAX_FRAME_BYTES
      ? message.length
      : new TextEncoder().encode(message).length;
  if (bytes > MAX_FRAME_BYTES) {
    refuseFrame(
      ws,
      attachment,
      'frame-too-large',
      `frames are limited to ${MAX_FRAME_BYTES} bytes`,
    );
    return undefined;
  }
  return message;
}

const clientBuckets = new WeakMap<WebSocket, TokenBucket>();

/**
 * A subscriber's frame, rate-limited (`MAX_CLIENT_FRAMES_PER_SECOND`, burst twice that) and
 * validated; undefined when it was refused (and answered).
 */
export function clientFrameOf(
  ws: WebSocket,
  attachment: SubscriberAttachment,
  message: string | ArrayBuffer,
): ClientFrame | undefined {
  const text = frameText(ws, attachment, message);
  if (text === undefined) return undefined;
  let bucket = clientBuckets.get(ws);
  if (!bucket) {
    bucket = new TokenBucket(
      MAX_CLIENT_FRAMES_PER_SECOND,
      MAX_CLIENT_FRAMES_PER_SECOND * 2,
      Date.now(),
    );
    clientBuckets.set(ws, bucket);
  }
  if (!bucket.take(1, Date.now())) {
    refuseFrame(
      ws,
      attachment,
      'rate-limited',
      `at most ${MAX_CLIENT_FRAMES_PER_SECOND} frames per second`,
    );
    return undefined;
  }
  const parsed = parseFrame(clientFrame, text);
  if (!parsed.ok) {
    refuseFrame(ws, attachment, 'bad-frame', parsed.message);
    return undefined;
  }
  return parsed.frame;
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
