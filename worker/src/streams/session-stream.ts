import { EVENTS_PAGE_MAX, type EventsPage, eventsPage } from '@kiln/protocol';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { z } from 'zod';
import { sessionAccess } from '../auth/access';
import { requirePrincipal } from '../auth/principal';
import { type AppEnv, fail, onError, validate } from '../http';
import { idParam } from '../routes/ids';

/**
 * Every session's event log as a read-only Durable Stream in JSON mode
 * (https://github.com/durable-streams/durable-streams, PROTOCOL.md; Kiln's mapping is in
 * protocol/PROTOCOL.md "Durable Streams"): `GET|HEAD /v1/stream/sessions/<id>`.
 *
 * Offsets are seqs: the offset after the event with seq N is N as 16 zero-padded decimal digits
 * (2^53 has 16), so offsets sort lexicographically like seqs; `-1` is the start (seq 0) and `now`
 * the tail. A read from offset N returns the events with seq > N, as a JSON array of the events
 * `GET /api/sessions/:id/events` returns.
 */

/** Offset digits: enough for every seq up to 2^53 − 1. */
const OFFSET_DIGITS = 16;
/** How long a long-poll request or one SSE wait holds before answering 204 / a keep-alive (ms). */
const LONG_POLL_MS = 20_000;
/** An SSE response ends after about this long (ms); the spec asks for ~60 s, for CDN collapsing. */
const SSE_CONNECTION_MS = 55_000;
/** Cursor intervals (spec §8.1): 20 s, counted from 2024-10-09T00:00:00Z. */
const CURSOR_INTERVAL_MS = 20_000;
const CURSOR_EPOCH_MS = Date.UTC(2024, 9, 9);

const STREAM_HEADERS = [
  'Stream-Next-Offset',
  'Stream-Cursor',
  'Stream-Up-To-Date',
  'ETag',
  'Content-Type',
] as const;

/** The offset after the event with seq `seq`. */
function offsetOf(seq: number): string {
  return String(seq).padStart(OFFSET_DIGITS, '0');
}

const offsetParam = z.union([
  z.literal('-1'),
  z.literal('now'),
  z
    .string()
    .regex(new RegExp(`^\\d{${OFFSET_DIGITS}}$`), 'an offset this stream returned, -1 or now'),
]);

const readQuery = z.object({
  offset: offsetParam.optional(),
  live: z.enum(['long-poll', 'sse']).optional(),
  cursor: z
    .string()
    .regex(/^\d{1,15}$/)
    .optional(),
  /** Kiln extension (spec §5.6 allows it): the long-poll wait in seconds, at most 20. */
  timeout: z.coerce
    .number()
    .int()
    .min(0)
    .max(LONG_POLL_MS / 1000)
    .optional(),
});

/**
 * The cursor of a live response (spec §8.1): the current 20 s interval number, or, when the
 * client's cursor is not behind it, the client's plus 1–180 intervals (1–3600 s of jitter), so
 * cursors never repeat.
 */
function responseCursor(clientCursor: string | undefined): string {
  const interval = Math.floor((Date.now() - CURSOR_EPOCH_MS) / CURSOR_INTERVAL_MS);
  const client = clientCursor === undefined ? -1 : Number(clientCursor);
  if (client < interval) return String(interval);
  return String(client + 1 + Math.floor(Math.random() * 180));
}

/** `/v1/stream/*`: the Durable Streams protocol over Kiln sessions (read-only, for now). */
export const streams = new Hono<AppEnv>()
  .basePath('/v1/stream')
  .use(
    cors({
      // Bearer tokens work cross-origin; cookies do not (no credentials with `*`).
      origin: '*',
      allowMethods: ['GET', 'HEAD', 'OPTIONS'],
      allowHeaders: ['Authorization', 'If-None-Match'],
      exposeHeaders: [...STREAM_HEADERS],
    }),
  )
  .use(async (c, next) => {
    await next();
    // Browser security headers (spec §10.7), on every answer including errors.
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
    c.res.headers.set('Cross-Origin-Resource-Policy', 'cross-origin');
  })
  .on(['POST', 'PUT', 'DELETE', 'PATCH'], '/sessions/:sessionId', (c) =>
    c.json(
      { error: { code: 'method-not-allowed', message: 'a session stream is read-only' } },
      405,
      { Allow: 'GET, HEAD, OPTIONS' },
    ),
  )
  .use(requirePrincipal)
  .get(
    '/sessions/:sessionId',
    validate('param', z.object({ sessionId: idParam })),
    validate('query', readQuery),
    async (c) => {
      const { sessionId } = c.req.valid('param');
      const query = c.req.valid('query');
      await sessionAccess(c.env.DB, sessionId, c.var.principal.userId);
      const object = c.env.SESSIONS.getByName(sessionId);
      const head = eventsPage.parse(await object.getEvents(Number.MAX_SAFE_INTEGER, 1)).headSeq;
      // Session data is per-user: nothing is stored by caches (spec §10.7).
      const base = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
      if (c.req.method === 'HEAD') {
        return c.body(null, 200, { ...base, 'Stream-Next-Offset': offsetOf(head) });
      }
      const offset = query.offset ?? '-1';
      const after = offset === '-1' ? 0 : offset === 'now' ? head : Number(offset);
      if (after > head) fail(400, 'bad-request', `offset ${offset} is past the tail`);
      if (query.live === 'sse') {
        return sse(sessionId, object, after, query.cursor);
      }
      if (offset === 'now' && !query.live) {
        return c.body('[]', 200, {
          ...base,
          'Stream-Next-Offset': offsetOf(head),
          'Stream-Up-To-Date': 'true',
        });
      }
      let page = await readPage(object, after);
      if (query.live === 'long-poll' && page.events.length === 0) {
        const waited = await waitPage(object, after, (query.timeout ?? LONG_POLL_MS / 1000) * 1000);
        if (!waited) {
          return c.body(null, 204, {
            'Cache-Control': 'no-store',
            'Stream-Next-Offset': offsetOf(after),
            'Stream-Up-To-Date': 'true',
            'Stream-Cursor': responseCursor(query.cursor),
          });
        }
        page = waited;
      }
      const last = page.events.at(-1)?.seq ?? after;
      const etag = `"${sessionId}:${offset}:${offsetOf(last)}"`;
      const headers: Record<string, string> = {
        ...base,
        ETag: etag,
        'Stream-Next-Offset': offsetOf(last),
      };
      if (page.nextAfter === null) headers['Stream-Up-To-Date'] = 'true';
      if (query.live) headers['Stream-Cursor'] = responseCursor(query.cursor);
      if (c.req.header('If-None-Match') === etag) return c.body(null, 304, { ETag: etag });
      return c.body(JSON.stringify(page.events), 200, headers);
    },
  )
  .notFound(() => fail(404, 'not-found', 'no such stream'))
  .onError(onError);

type SessionStub = ReturnType<AppEnv['Bindings']['SESSIONS']['getByName']>;

/**
 * A page of the log from the SessionDO after `after`. The stub's RPC type does not carry
 * `EventsPage`, so the answer is parsed here, at the boundary.
 */
async function readPage(object: SessionStub, after: number): Promise<EventsPage> {
  return eventsPage.parse(await object.getEvents(after, EVENTS_PAGE_MAX));
}

/** `readPage` once an event after `after` exists; null when none came within `waitMs` (ms). */
async function waitPage(
  object: SessionStub,
  after: number,
  waitMs: number,
): Promise<EventsPage | null> {
  const page = await object.waitForEvents(after, EVENTS_PAGE_MAX, waitMs);
  return page === null ? null : eventsPage.parse(page);
}

/**
 * An SSE response (spec §5.7): per page an `event: data` with the events as one JSON array, then
 * an `event: control` with `streamNextOffset`, `streamCursor` and `upToDate` when caught up;
 * a keep-alive control after each wait without events; closed after `SSE_CONNECTION_MS`.
 */
function sse(
  sessionId: string,
  object: SessionStub,
  start: number,
  clientCursor: string | undefined,
): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  const send = (event: 'data' | 'control', data: string) =>
    writer.write(encoder.encode(`event: ${event}\ndata: ${data}\n\n`));
  const pump = async () => {
    const deadline = Date.now() + SSE_CONNECTION_MS;
    let after = start;
    let page: EventsPage | null = await readPage(object, after);
    for (;;) {
      page ??= { events: [], headSeq: after, nextAfter: null };
      const last = page.events.at(-1);
      if (last) {
        await send('data', JSON.stringify(page.events));
        after = last.seq;
      }
      const upToDate = page.nextAfter === null;
      await send(
        'control',
        JSON.stringify({
          streamNextOffset: offsetOf(after),
          streamCursor: responseCursor(clientCursor),
          ...(upToDate ? { upToDate: true } : {}),
        }),
      );
      if (!upToDate) {
        page = await readPage(object, after);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      // null (no event in time) becomes the keep-alive control at the top of the loop.
      page = await waitPage(object, after, Math.min(LONG_POLL_MS, left));
    }
    await writer.close();
  };
  pump().catch((err: unknown) => {
    // The reader went away (a failed write) or the object failed: end this response; the client
    // reconnects from its last streamNextOffset.
    console.warn(`session stream ${sessionId}: SSE ended`, err);
    void writer.abort(err).catch(() => {
      // Already closed or errored: nothing left to end.
    });
  });
  return new Response(readable, {
    // CORS and the security headers come from the middleware of `streams`.
    headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' },
  });
}
