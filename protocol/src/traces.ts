import { z } from 'zod';
import { usageTotals } from './state';
import { toolCallStatus } from './status';

/**
 * `GET /api/sessions/:id/traces?cursor=&limit=` — a session's trace, read from D1's projections
 * (not by replaying its log), one page of spans at a time. Times are ms epoch.
 */

/** Default and largest `limit` of a traces page (spans). */
export const TRACES_PAGE_DEFAULT = 200;
export const TRACES_PAGE_MAX = 1000;

/** One bar of the waterfall: an agent step (an assistant message) or a tool call. */
export const traceSpan = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('step'),
    /** The assistant message id. */
    id: z.string(),
    turnId: z.string().nullable(),
    seq: z.number().int(),
    startedAt: z.number(),
    /** Length of the step's text, characters. */
    textLength: z.number().int().nonnegative(),
    status: z.string(),
  }),
  z.object({
    kind: z.literal('tool-call'),
    /** The tool call id. */
    id: z.string(),
    turnId: z.string().nullable(),
    seq: z.number().int(),
    toolName: z.string(),
    input: z.unknown(),
    output: z.unknown().optional(),
    isError: z.boolean(),
    truncated: z.boolean(),
    status: toolCallStatus,
    todoIndex: z.number().int().nullable(),
    parentToolCallId: z.string().nullable(),
    startedAt: z.number(),
    finishedAt: z.number().nullable(),
    durationMs: z.number().nullable(),
  }),
]);
export type TraceSpan = z.infer<typeof traceSpan>;

/** A turn as far as the projections show it: the extent of its steps and tool calls. */
export const traceTurn = z.object({
  turnId: z.string(),
  firstSeq: z.number().int(),
  startedAt: z.number(),
  finishedAt: z.number(),
  steps: z.number().int(),
  toolCalls: z.number().int(),
  errors: z.number().int(),
});
export type TraceTurn = z.infer<typeof traceTurn>;

export const tracesPage = z.object({
  session: z.object({
    id: z.string(),
    status: z.string(),
    title: z.string(),
    agent: z.string(),
    model: z.string(),
    /** Highest seq projected into D1: the trace is complete up to it. */
    headSeq: z.number().int(),
    createdAt: z.number(),
    startedAt: z.number().nullable(),
    finishedAt: z.number().nullable(),
    totalTokens: z.number(),
    costUsd: z.number(),
  }),
  /** Every turn of the session (the same on every page). */
  turns: z.array(traceTurn),
  /** Token and cost totals per model (the same on every page). */
  usageByModel: z.record(z.string(), usageTotals),
  /** Spans in seq order, after `cursor`. */
  spans: z.array(traceSpan),
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type TracesPage = z.infer<typeof tracesPage>;
