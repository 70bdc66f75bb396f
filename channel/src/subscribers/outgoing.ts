import {
  type ErrorFrame,
  PROTOCOL_VERSION,
  type PresenceDiffFrame,
  type PresenceFrame,
  type ProjectServerFrame,
  type ProjectState,
  type SessionServerFrame,
  type SessionState,
} from '@kiln/protocol';

/**
 * Every frame a channel sends a subscriber is built here, typed against its direction's
 * zod-inferred union (`SessionServerFrame`, `ProjectServerFrame`), so no object writes
 * `JSON.stringify({type…})` itself. The one exception is the `events` frame, assembled from
 * already-serialized events by `eventFrames` (fanout.ts) so a batch is serialized once for every
 * socket.
 */

/** The frames both subscriber directions share: errors, presence, pong. */
export type CommonFrame = ErrorFrame | PresenceFrame | PresenceDiffFrame | { type: 'pong' };

/** JSON text of a frame that is valid on the session and on the project direction alike. */
export function commonFrame(frame: CommonFrame): string {
  return JSON.stringify(frame satisfies SessionServerFrame satisfies ProjectServerFrame);
}

/** SessionDO / viewer shard → subscriber: the first frame on a socket. */
export function sessionReadyFrame(sessionId: string, headSeq: number, viewerId: string): string {
  return JSON.stringify({
    type: 'ready',
    sessionId,
    headSeq,
    protocolVersion: PROTOCOL_VERSION,
    viewerId,
  } satisfies SessionServerFrame);
}

/** SessionDO / viewer shard → subscriber: the whole state at `seq`. */
export function sessionSnapshotFrame(seq: number, state: SessionState): string {
  return JSON.stringify({ type: 'snapshot', seq, state } satisfies SessionServerFrame);
}

/** ProjectDO → subscriber: the first frame on a socket. */
export function projectReadyFrame(projectId: string, headSeq: number, viewerId: string): string {
  return JSON.stringify({
    type: 'ready',
    projectId,
    headSeq,
    protocolVersion: PROTOCOL_VERSION,
    viewerId,
  } satisfies ProjectServerFrame);
}

/** ProjectDO → subscriber: the project's state at `seq`. */
export function projectSnapshotFrame(seq: number, state: ProjectState): string {
  return JSON.stringify({ type: 'snapshot', seq, state } satisfies ProjectServerFrame);
}
