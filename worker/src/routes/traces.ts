import {
  type ToolCallStatus,
  TRACES_PAGE_DEFAULT,
  TRACES_PAGE_MAX,
  type TraceSpan,
  type TracesPage,
  type TraceTurn,
  type UsageTotals,
} from '@kiln/protocol';
import { Hono } from 'hono';
import { z } from 'zod';
import { sessionAccess } from '../auth/access';
import { requirePrincipal } from '../auth/principal';
import { type AppEnv, fail, validate } from '../http';
import { idParam } from './ids';

/**
 * `GET /api/sessions/:sessionId/traces?cursor=&limit=`: the session's waterfall from D1's
 * projections (generation_sessions, messages, generation_tool_calls, usage), one page of spans at
 * a time in seq order, so a long session's trace loads without replaying its log. The cursor is
 * opaque to clients; it is the seq of the page's last span.
 */
// The middleware sits on the route, not on `.use()`: mounted at /sessions, a `.use()` would run
// for every /sessions/* request, including a runner's ingest upgrade, and refuse its runner token.
export const traces = new Hono<AppEnv>().get(
  '/:sessionId/traces',
  requirePrincipal,
  validate('param', z.object({ sessionId: idParam })),
  validate(
    'query',
    z.object({
      cursor: z
        .string()
        .regex(/^s\d{1,15}$/, 'a cursor from a previous page')
        .optional(),
      limit: z.coerce.number().int().positive().max(TRACES_PAGE_MAX).default(TRACES_PAGE_DEFAULT),
    }),
  ),
  async (c) => {
    const { sessionId } = c.req.valid('param');
    const { cursor, limit } = c.req.valid('query');
    await sessionAccess(c.env.DB, sessionId, c.var.principal.userId);
    const after = cursor ? Number(cursor.slice(1)) : 0;
    const db = c.env.DB;
    // One batch: one consistent read of every projection this page needs.
    const results = await db.batch([
      db.prepare('SELECT * FROM generation_sessions WHERE id = ?').bind(sessionId),
      db
        .prepare(
          `SELECT message_id, turn_id, seq, created_at, length(text) AS text_length, status
           FROM messages WHERE session_id = ? AND role = 'assistant' AND seq > ?
           ORDER BY seq LIMIT ?`,
        )
        .bind(sessionId, after, limit + 1),
      db
        .prepare(
          'SELECT * FROM generation_tool_calls WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?',
        )
        .bind(sessionId, after, limit + 1),
      db
        .prepare(
          `SELECT turn_id, MIN(seq) AS first_seq, MIN(started_at) AS started_at,
                  MAX(COALESCE(finished_at, started_at)) AS finished_at,
                  SUM(kind = 'step') AS steps, SUM(kind = 'call') AS tool_calls,
                  SUM(is_error) AS errors
           FROM (
             SELECT turn_id, seq, created_at AS started_at, NULL AS finished_at, 'step' AS kind,
                    0 AS is_error
             FROM messages WHERE session_id = ?1 AND role = 'assistant' AND turn_id IS NOT NULL
             UNION ALL
             SELECT turn_id, seq, started_at, finished_at, 'call', is_error
             FROM generation_tool_calls WHERE session_id = ?1 AND turn_id IS NOT NULL
           )
           GROUP BY turn_id ORDER BY first_seq`,
        )
        .bind(sessionId),
      db.prepare('SELECT * FROM usage WHERE session_id = ? ORDER BY model').bind(sessionId),
    ]);
    const rows = <T>(i: number) => (results[i]?.results ?? []) as T[];
    const session = rows<SessionRow>(0)[0];
    if (!session) fail(404, 'not-found', `no session ${sessionId}`);

    const spans: TraceSpan[] = [
      ...rows<StepRow>(1).map(stepSpan),
      ...rows<CallRow>(2).map(callSpan),
    ].sort((a, b) => a.seq - b.seq);
    const page = spans.slice(0, limit);
    const more = spans.length > limit;
    const usageByModel: Record<string, UsageTotals> = {};
    for (const row of rows<UsageRow>(4)) {
      usageByModel[row.model] = {
        inputTokens: row.input_tokens,
        outputTokens: row.output_tokens,
        cacheReadTokens: row.cache_read_tokens,
        cacheWriteTokens: row.cache_write_tokens,
        reasoningTokens: row.reasoning_tokens,
        costUsd: row.cost_usd,
      };
    }
    const body: TracesPage = {
      session: {
        id: session.id,
        status: session.status,
        title: session.title,
        agent: session.agent,
        model: session.model,
        headSeq: session.head_seq,
        createdAt: session.created_at,
        startedAt: session.started_at,
        finishedAt: session.finished_at,
        totalTokens: session.total_tokens,
        costUsd: session.cost_usd,
      },
      turns: rows<TurnRow>(3).map(
        (row): TraceTurn => ({
          turnId: row.turn_id,
          firstSeq: row.first_seq,
          startedAt: row.started_at,
          finishedAt: row.finished_at,
          steps: row.steps,
          toolCalls: row.tool_calls,
          errors: row.errors,
        }),
      ),
      usageByModel,
      spans: page,
      nextCursor: more ? `s${page[page.length - 1]?.seq}` : null,
    };
    return c.json(body);
  },
);

interface SessionRow {
  id: string;
  status: string;
  title: string;
  agent: string;
  model: string;
  head_seq: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  total_tokens: number;
  cost_usd: number;
}
interface StepRow {
  message_id: string;
  turn_id: string | null;
  seq: number;
  created_at: number;
  text_length: number;
  status: string;
}
interface CallRow {
  tool_call_id: string;
  turn_id: string | null;
  todo_index: number | null;
  parent_tool_call_id: string | null;
  tool_name: string;
  input: string;
  output: string | null;
  is_error: number;
  truncated: number;
  status: ToolCallStatus;
  seq: number;
  started_at: number;
  finished_at: number | null;
  duration_ms: number | null;
}
interface TurnRow {
  turn_id: string;
  first_seq: number;
  started_at: number;
  finished_at: number;
  steps: number;
  tool_calls: number;
  errors: number;
}
interface UsageRow {
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  cost_usd: number;
}

function stepSpan(row: StepRow): TraceSpan {
  return {
    kind: 'step',
    id: row.message_id,
    turnId: row.turn_id,
    seq: row.seq,
    startedAt: row.created_at,
    textLength: row.text_length,
    status: row.status,
  };
}

function callSpan(row: CallRow): TraceSpan {
  return {
    kind: 'tool-call',
    id: row.tool_call_id,
    turnId: row.turn_id,
    seq: row.seq,
    toolName: row.tool_name,
    input: parseJson(row.input),
    ...(row.output === null ? {} : { output: parseJson(row.output) }),
    isError: row.is_error === 1,
    truncated: row.truncated === 1,
    status: row.status,
    todoIndex: row.todo_index,
    parentToolCallId: row.parent_tool_call_id,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
  };
}

/** The projection stores inputs and outputs as JSON text; one that is not JSON is shown as text. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
