import { z } from 'zod';

/**
 * Every status in Kiln, one zod enum each (PROTOCOL.md, glossary). Wire statuses are part of the
 * protocol; the rest (lease, build, hub turn) are stored by the worker and named here so that one
 * name has one meaning everywhere.
 */

/** A todo of the agent's list (`todos-updated`). */
export const todoStatus = z.enum(['pending', 'in_progress', 'completed']);
export type TodoStatus = z.infer<typeof todoStatus>;

/** A session as a whole: `session-status` events and the state's `status`. */
export const sessionStatus = z.enum([
  'queued',
  'active',
  'idle',
  'completed',
  'failed',
  'interrupted',
]);
export type SessionStatus = z.infer<typeof sessionStatus>;

/** A turn in the session state: `running` from `turn-started` until its `turn-finished`. */
export const turnStatus = z.enum(['running', 'completed', 'failed', 'interrupted']);
export type TurnStatus = z.infer<typeof turnStatus>;

/** How a turn ended: the `status` of `turn-finished`. */
export const finishedTurnStatus = turnStatus.exclude(['running']);
export type FinishedTurnStatus = z.infer<typeof finishedTurnStatus>;

/** A tool call: `running` until its output, `abandoned` when its turn ended without one. */
export const toolCallStatus = z.enum(['running', 'done', 'abandoned']);
export type ToolCallStatus = z.infer<typeof toolCallStatus>;

/** A message: `streaming` until `message-finish` (or its turn's end). */
export const messageStatus = z.enum(['streaming', 'done']);
export type MessageStatus = z.infer<typeof messageStatus>;

/** The runner's preview server (`preview-updated`). */
export const previewStatus = z.enum(['starting', 'ready', 'error', 'stopped']);
export type PreviewStatus = z.infer<typeof previewStatus>;

/**
 * A build's lease as the SessionDO keeps it (PROTOCOL.md §3a): `leased` → silent past the lease
 * `expired` → back within the grace period `leased`, or `lost` for good.
 */
export const leaseStatus = z.enum(['leased', 'expired', 'lost']);
export type LeaseStatus = z.infer<typeof leaseStatus>;

/**
 * A build as D1's `builds` row records it: `leased` (offered to a runner or a producer),
 * `running` (accepted), `finished` (its runner reported it done) or `abandoned` (rejected,
 * timed out or cancelled).
 */
export const buildStatus = z.enum(['leased', 'running', 'finished', 'abandoned']);
export type BuildStatus = z.infer<typeof buildStatus>;

/**
 * Where a turn stands in its hub's queue: waiting for a runner, offered to one (not yet
 * accepted), running on one, done (finished, cancelled or handed on), or failed at once because
 * no connected runner offers its agent or its queue is full (the session says why).
 */
export const hubTurnStatus = z.enum(['queued', 'offered', 'running', 'done', 'failed']);
export type HubTurnStatus = z.infer<typeof hubTurnStatus>;
