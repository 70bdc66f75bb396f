import { z } from 'zod';
import { runnerEventBody, sessionEvent } from './events';
import { MAX_EVENTS_PER_FRAME, MAX_MESSAGE_CHARS } from './limits';
import { sessionState } from './state';

/**
 * WebSocket frames, one discriminated union per direction (DESIGN §3). Every frame is one JSON
 * text message with a `type`.
 */

/** Error codes shared by socket `error` frames, close reasons and HTTP error bodies. */
export const errorCode = z.enum([
  'bad-frame',
  'bad-request',
  'frame-too-large',
  'event-too-large',
  'artifact-too-large',
  'producer-gap',
  'stale-epoch',
  'no-lease',
  'ahead-of-head',
  'lagging',
  'rate-limited',
  'unauthorized',
  'forbidden',
  'not-found',
  'conflict',
  'internal',
]);
export type ErrorCode = z.infer<typeof errorCode>;

const seqNumber = z.number().int().nonnegative();

/** Sent by either side when a frame is refused or the connection must end. */
export const errorFrame = z.object({
  type: z.literal('error'),
  code: errorCode,
  message: z.string(),
  /** When true the server closes the socket after this frame. */
  fatal: z.boolean(),
  /** For `producer-gap`: the producer seq the server expects next. */
  expectedProducerSeq: z.number().int().optional(),
});
export type ErrorFrame = z.infer<typeof errorFrame>;

// --- Client ↔ SessionDO (`GET /api/sessions/:id/ws`) ---

/** Client → SessionDO. `hello` must come first; it may be sent again to resync after a gap. */
export const clientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), lastSeq: seqNumber }),
  z.object({
    type: z.literal('send'),
    clientMessageId: z.string().min(1).max(200),
    text: z.string().min(1).max(MAX_MESSAGE_CHARS),
  }),
  z.object({ type: z.literal('interrupt') }),
  /** Optional flow control: the client has applied every event up to `seq`. */
  z.object({ type: z.literal('ack'), seq: seqNumber }),
  z.object({ type: z.literal('ping') }),
]);
export type ClientFrame = z.infer<typeof clientFrame>;

export const viewer = z.object({
  viewerId: z.string(),
  displayName: z.string(),
  /** ms epoch when this viewer connected. */
  since: z.number(),
});
export type Viewer = z.infer<typeof viewer>;

/**
 * Server → subscriber (session and project channels): who watches, as a whole view that replaces
 * the client's — the first `PRESENCE_LIST_LIMIT` viewers in the order they joined, and how many
 * watch in all. Sent once after a subscriber's first `hello` (and to everyone after the object
 * restarted, when it no longer knows what each was told).
 */
export const presenceFrame = z.object({
  type: z.literal('presence'),
  viewers: z.array(viewer),
  count: z.number().int().nonnegative(),
});
export type PresenceFrame = z.infer<typeof presenceFrame>;

/**
 * Server → subscriber: what changed in the presence view since the last `presence` or
 * `presence-diff`, at most one per flush window. Drop the viewers whose ids are in `left`, append
 * `joined` (they come after everyone listed), take `count`.
 */
export const presenceDiffFrame = z.object({
  type: z.literal('presence-diff'),
  joined: z.array(viewer),
  left: z.array(z.string()),
  count: z.number().int().nonnegative(),
});
export type PresenceDiffFrame = z.infer<typeof presenceDiffFrame>;

/** SessionDO → client. `ready` is always the first frame. */
export const sessionServerFrame = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('ready'),
    sessionId: z.string(),
    headSeq: seqNumber,
    protocolVersion: z.number().int(),
    viewerId: z.string(),
  }),
  /** The whole state at `seq`; replaces whatever the client had. */
  z.object({ type: z.literal('snapshot'), seq: seqNumber, state: sessionState }),
  /** A seq-contiguous batch following what the client has. */
  z.object({ type: z.literal('events'), events: z.array(sessionEvent) }),
  presenceFrame,
  presenceDiffFrame,
  errorFrame,
  z.object({ type: z.literal('pong') }),
]);
export type SessionServerFrame = z.infer<typeof sessionServerFrame>;

// --- Runner ↔ SessionDO (`GET /api/sessions/:id/ingest`) ---

/**
 * An event body on the ingest socket. `recordedAt` (ms epoch) is the time a recording says the
 * event happened: on an import build (`kiln import`, PROTOCOL.md §7) it becomes the committed
 * event's `at`, so an imported session keeps its real timing; any other build that sends it is
 * refused (`bad-frame`). It is never stored in the body.
 */
export const ingestEvent = z.intersection(
  runnerEventBody,
  z.object({ recordedAt: z.number().int().nonnegative().optional() }),
);
export type IngestEvent = z.infer<typeof ingestEvent>;

/** Runner → SessionDO. `hello` first, naming the leased build and the producer epoch. */
export const ingestFrame = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    buildId: z.string().min(1),
    /** Raised by a producer each time it restarts; a lower epoch than the server's is fenced. */
    producerEpoch: z.number().int().nonnegative(),
  }),
  z.object({
    type: z.literal('events'),
    /** Producer seq of `events[0]`; the rest follow contiguously. Producer seqs start at 1. */
    firstProducerSeq: z.number().int().positive(),
    events: z.array(ingestEvent).min(1).max(MAX_EVENTS_PER_FRAME),
  }),
  z.object({ type: z.literal('ping') }),
]);
export type IngestFrame = z.infer<typeof ingestFrame>;

export const runnerCommand = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('interrupt') }),
  z.object({ kind: z.literal('user-message'), messageId: z.string(), text: z.string() }),
]);
export type RunnerCommand = z.infer<typeof runnerCommand>;

/** SessionDO → runner. */
export const ingestServerFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), ackedProducerSeq: seqNumber }),
  /** Every event up to `producerSeq` is durable. */
  z.object({ type: z.literal('ack'), producerSeq: seqNumber }),
  z.object({ type: z.literal('command'), command: runnerCommand }),
  errorFrame,
  z.object({ type: z.literal('pong') }),
]);
export type IngestServerFrame = z.infer<typeof ingestServerFrame>;

// --- Runner ↔ RunnerHubDO (`GET /api/runners/connect`) ---

/**
 * What a turn's agent may do without asking, named after Claude Code's permission modes. Nobody
 * answers prompts on a runner, so `default` ("ask") means an agent's safe mode: reads only. Absent,
 * an agent uses its own default (`acceptEdits` for the CLIs: edits inside the workspace).
 */
export const permissionMode = z.enum(['default', 'acceptEdits', 'bypassPermissions', 'plan']);
export type PermissionMode = z.infer<typeof permissionMode>;

/** Runner → hub. */
export const runnerHubFrame = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    runnerId: z.string().min(1),
    version: z.string(),
    agents: z.array(z.string()),
    capacity: z.number().int().positive(),
  }),
  z.object({ type: z.literal('heartbeat'), activeBuilds: z.array(z.string()) }),
  z.object({ type: z.literal('build-accepted'), buildId: z.string() }),
  z.object({
    type: z.literal('build-rejected'),
    buildId: z.string(),
    reason: z.string().optional(),
  }),
  z.object({ type: z.literal('ping') }),
]);
export type RunnerHubFrame = z.infer<typeof runnerHubFrame>;

/** Hub → runner. */
export const hubServerFrame = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('build'),
    buildId: z.string(),
    sessionId: z.string(),
    projectId: z.string(),
    turnId: z.string(),
    prompt: z.string(),
    agent: z.string(),
    model: z.string(),
    /** From the message that started the turn; absent when it named none. */
    permissionMode: permissionMode.optional(),
    checkpoint: z.unknown().optional(),
  }),
  z.object({ type: z.literal('cancel'), buildId: z.string() }),
  errorFrame,
  z.object({ type: z.literal('pong') }),
]);
export type HubServerFrame = z.infer<typeof hubServerFrame>;

/** Parses a JSON text frame with a schema; never throws. */
export function parseFrame<T>(
  schema: z.ZodType<T>,
  text: string,
): { ok: true; frame: T } | { ok: false; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, message: 'frame is not valid JSON' };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, frame: result.data };
  return { ok: false, message: z.prettifyError(result.error) };
}
