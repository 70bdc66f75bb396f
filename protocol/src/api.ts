import { z } from 'zod';
import { sessionEvent } from './events';
import { errorCode } from './frames';

/** HTTP bodies shared by the worker and its clients (runner CLI, web). */

/** Body of every HTTP error: `{ error: { code, message } }`. */
export const apiError = z.object({ error: z.object({ code: errorCode, message: z.string() }) });
export type ApiError = z.infer<typeof apiError>;

/** `POST /api/projects/:projectId/sessions/:sessionId/builds` — lease a build to the caller. */
export const createBuildRequest = z.object({
  agent: z.string().min(1).max(100).default('replay'),
  model: z.string().max(200).default(''),
  /**
   * A build that imports a recording (`kiln import`): a session has one import build, leased
   * again by every import, so producer seqs continue across imports and re-sent events are
   * duplicates (PROTOCOL.md §7, "Importing"). Its events may carry `recordedAt`.
   */
  import: z.boolean().default(false),
});
export type CreateBuildRequest = z.input<typeof createBuildRequest>;

export const buildLease = z.object({
  buildId: z.string(),
  sessionId: z.string(),
  projectId: z.string(),
  /** ms epoch; renewed by ingest activity. */
  leaseExpiresAt: z.number(),
  /** Path of the ingest socket, relative to the server. */
  ingestPath: z.string(),
  /** Import builds: the producer seq acknowledged by earlier imports (0 for a new build). */
  ackedProducerSeq: z.number().int().nonnegative().default(0),
});
export type BuildLease = z.infer<typeof buildLease>;

/** `GET /api/sessions/:id/events?after=N&limit=M` */
export const eventsPage = z.object({
  events: z.array(sessionEvent),
  headSeq: z.number().int().nonnegative(),
  /** Pass as `after` for the next page; null when this page reached head. */
  nextAfter: z.number().int().nullable(),
});
export type EventsPage = z.infer<typeof eventsPage>;
