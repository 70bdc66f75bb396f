import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { stream } from '@durable-streams/client';
import type { SessionEvent } from '@kiln/protocol';
import { sampleTurn } from '@kiln/protocol/testing';
import { describe, expect, it, vi } from 'vitest';
import type { SessionObject } from '../src/session/session-object';
import type { CommitWaiters } from '../src/streams/commit-waiters';
import { api, BASE, logOf, openBuild, produce, renames, seedAccount } from './helpers';

/** The stream path of a session (worker/src/streams/session-stream.ts). */
const path = (sessionId: string) => `/v1/stream/sessions/${sessionId}`;
const offset = (seq: number) => String(seq).padStart(16, '0');

/** A session with the sample turn committed, its producer still open. */
async function sessionWithSample() {
  const build = await openBuild();
  await produce(build.producer, 1, sampleTurn(build.buildId));
  const log = await logOf(build.sessionId, build.account.token);
  return { ...build, log };
}

/** Resolves once `count` live readers wait in the session's object (so a commit must wake them). */
async function parked(sessionId: string, count: number): Promise<void> {
  await vi.waitFor(
    () =>
      runInDurableObject(env.SESSIONS.getByName(sessionId), (instance: SessionObject) => {
        const waiters = (instance as unknown as { streamWaiters: CommitWaiters }).streamWaiters;
        expect(waiters.size).toBe(count);
      }),
    { timeout: 10_000, interval: 20 },
  );
}

type SseEvent = { event: string; data: string };

/**
 * A reader of an SSE body: `until(done)` reads on until `done(every event so far)` holds and
 * returns the events; `cancel()` ends the connection.
 */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  let buffer = '';
  return {
    async until(done: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
      while (!done(events)) {
        const { value, done: ended } = await reader.read();
        if (ended) throw new Error('the SSE response ended early');
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
          const data = [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join('\n');
          events.push({ event, data });
        }
      }
      return events;
    },
    cancel: () => reader.cancel(),
  };
}

/** A promise and its resolve function. */
function deferred() {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const controlsIn = (events: SseEvent[]) => events.filter((e) => e.event === 'control');

describe('a session as a Durable Stream', () => {
  it('catch-up from -1 returns the whole log as a JSON array, with offsets derived from seq', async () => {
    const { account, sessionId, log } = await sessionWithSample();
    const res = await api(path(sessionId), account.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toContain('application/json');
    const head = log.at(-1)?.seq ?? 0;
    expect(res.headers.get('Stream-Next-Offset')).toBe(offset(head));
    expect(res.headers.get('Stream-Up-To-Date')).toBe('true');
    expect(res.headers.get('Cache-Control')).toBe('no-store');
    expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff');
    expect(res.headers.get('Cross-Origin-Resource-Policy')).toBe('cross-origin');
    expect(res.headers.get('Access-Control-Expose-Headers')).toContain('Stream-Next-Offset');
    expect(await res.json()).toEqual(log);

    // From a middle offset: only the events after it; the same ETag gives 304.
    const mid = await api(`${path(sessionId)}?offset=${offset(3)}`, account.token);
    expect(await mid.json()).toEqual(log.filter((e) => e.seq > 3));
    const etag = mid.headers.get('ETag');
    expect(etag).toBeTruthy();
    const again = await api(`${path(sessionId)}?offset=${offset(3)}`, account.token, {
      headers: { 'If-None-Match': etag ?? '' },
    });
    expect(again.status).toBe(304);

    // At the tail and with `now`: an empty array, up to date.
    for (const at of [offset(head), 'now']) {
      const tail = await api(`${path(sessionId)}?offset=${at}`, account.token);
      expect(tail.status).toBe(200);
      expect(await tail.json()).toEqual([]);
      expect(tail.headers.get('Stream-Next-Offset')).toBe(offset(head));
      expect(tail.headers.get('Stream-Up-To-Date')).toBe('true');
    }

    const headRes = await api(path(sessionId), account.token, { method: 'HEAD' });
    expect(headRes.status).toBe(200);
    expect(headRes.headers.get('Stream-Next-Offset')).toBe(offset(head));
    expect(headRes.headers.get('Cache-Control')).toBe('no-store');
  });

  it('is authorised like GET /events: 401 without a credential, 404 alike for strangers and unknown sessions', async () => {
    const { sessionId } = await sessionWithSample();
    const stranger = await seedAccount();
    expect((await api(path(sessionId), undefined)).status).toBe(401);
    const foreign = await api(path(sessionId), stranger.token);
    const unknown = await api(path(crypto.randomUUID()), stranger.token);
    expect(foreign.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(await foreign.json()).toEqual({
      error: { code: 'not-found', message: `no session ${sessionId}` },
    });
  });

  it('is read-only and refuses bad offsets, changing nothing', async () => {
    const { account, sessionId, log } = await sessionWithSample();
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await api(path(sessionId), account.token, { method, body: '[{"x":1}]' });
      expect(res.status).toBe(405);
      expect(res.headers.get('Allow')).toBe('GET, HEAD, OPTIONS');
    }
    // A browser's preflight needs no credential and names the read methods only.
    const preflight = await api(path(sessionId), undefined, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://elsewhere.example',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(preflight.headers.get('Access-Control-Allow-Methods')).toBe('GET,HEAD,OPTIONS');
    for (const bad of ['abc', '12', offset(log.length + 100)]) {
      const res = await api(`${path(sessionId)}?offset=${bad}`, account.token);
      expect(res.status).toBe(400);
    }
    expect(await logOf(sessionId, account.token)).toEqual(log);
  });

  it('long-poll at the tail answers 204 with the tail on timeout, and wakes on the next commit', async () => {
    const { account, sessionId, producer, log } = await sessionWithSample();
    const head = log.at(-1)?.seq ?? 0;
    const timedOut = await api(
      `${path(sessionId)}?offset=${offset(head)}&live=long-poll&timeout=0`,
      account.token,
    );
    expect(timedOut.status).toBe(204);
    expect(timedOut.headers.get('Stream-Next-Offset')).toBe(offset(head));
    expect(timedOut.headers.get('Stream-Up-To-Date')).toBe('true');
    expect(timedOut.headers.get('Stream-Cursor')).toMatch(/^\d+$/);

    // The poll is waiting in the SessionDO before the producer commits (cursor echoed back).
    const cursor = timedOut.headers.get('Stream-Cursor') ?? '';
    const poll = api(
      `${path(sessionId)}?offset=${offset(head)}&live=long-poll&cursor=${cursor}`,
      account.token,
    );
    await parked(sessionId, 1);
    await produce(producer, 1 + sampleTurn('x').length, renames(0, 2));
    const res = await poll;
    expect(res.status).toBe(200);
    const events = (await res.json()) as SessionEvent[];
    expect(events.map((e) => e.seq)).toEqual([head + 1, head + 2]);
    expect(res.headers.get('Stream-Next-Offset')).toBe(offset(head + 2));
    expect(Number(res.headers.get('Stream-Cursor'))).toBeGreaterThan(Number(cursor));
  });

  it('SSE sends the catch-up as data then an up-to-date control, then live events on commit', async () => {
    const { account, sessionId, producer, log } = await sessionWithSample();
    const head = log.at(-1)?.seq ?? 0;
    const res = await api(`${path(sessionId)}?offset=-1&live=sse`, account.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toBe('text/event-stream');
    const body = res.body;
    if (!body) throw new Error('no SSE body');
    const sse = sseReader(body);
    await sse.until((so) => controlsIn(so).length === 1);
    // Caught up and parked in the object: only now does the producer commit two more.
    await parked(sessionId, 1);
    await produce(producer, 1 + sampleTurn('x').length, renames(0, 2));
    const events = await sse.until((so) => controlsIn(so).length === 2);
    await sse.cancel();
    const data = events.filter((e) => e.event === 'data').map((e) => JSON.parse(e.data));
    expect(data[0]).toEqual(log);
    expect((data[1] as SessionEvent[]).map((e) => e.seq)).toEqual([head + 1, head + 2]);
    const controls = controlsIn(events).map((e) => JSON.parse(e.data));
    expect(controls[0]).toMatchObject({ streamNextOffset: offset(head), upToDate: true });
    expect(controls[1]).toMatchObject({ streamNextOffset: offset(head + 2), upToDate: true });
    expect(controls[1].streamCursor).toMatch(/^\d+$/);
  });

  for (const live of ['sse', 'long-poll'] as const) {
    it(`@durable-streams/client follows a session over ${live}: catch-up, then live, exactly the log`, async () => {
      const { account, sessionId, producer, log } = await sessionWithSample();
      const controller = new AbortController();
      const res = await stream<SessionEvent>({
        url: `${BASE}${path(sessionId)}`,
        headers: { Authorization: `Bearer ${account.token}` },
        fetch: (input, init) => SELF.fetch(input, init),
        signal: controller.signal,
        live,
        warnOnHttp: false,
      });
      const seen: SessionEvent[] = [];
      const caughtUp = deferred();
      const all = deferred();
      res.subscribeJson<SessionEvent>((batch) => {
        seen.push(...batch.items);
        if (batch.upToDate) caughtUp.resolve();
        if (seen.length === log.length + 5) all.resolve();
      });
      await caughtUp.promise;
      // The client's live read waits in the object before the producer commits more.
      await parked(sessionId, 1);
      const firstLive = 1 + sampleTurn('x').length;
      await produce(producer, firstLive, renames(0, 3));
      await produce(producer, firstLive + 3, renames(3, 2));
      await all.promise;
      controller.abort();
      expect(seen).toEqual(await logOf(sessionId, account.token));
      expect(seen.slice(0, log.length)).toEqual(log);
      expect(res.offset).toBe(offset(log.length + 5));
    });
  }
});

describe('a Durable Streams client cut off mid-session', () => {
  it('resumes from its last offset and ends with exactly the log, nothing twice', async () => {
    const { account, sessionId, producer, log } = await sessionWithSample();
    const follow = async (from: string | undefined, until: (seen: SessionEvent[]) => boolean) => {
      const controller = new AbortController();
      const res = await stream<SessionEvent>({
        url: `${BASE}${path(sessionId)}`,
        headers: { Authorization: `Bearer ${account.token}` },
        fetch: (input, init) => SELF.fetch(input, init),
        signal: controller.signal,
        offset: from,
        live: 'sse',
        warnOnHttp: false,
      });
      const seen: SessionEvent[] = [];
      let last = from;
      let cut = false;
      const done = deferred();
      res.subscribeJson<SessionEvent>((batch) => {
        // The client may still hand over a batch that was in flight when it was aborted; a cut
        // reader has gone, so what it keeps (events and offset) ends at the cut.
        if (cut) return;
        seen.push(...batch.items);
        last = batch.offset;
        if (until(seen)) done.resolve();
      });
      return {
        seen,
        done: done.promise,
        offset: () => last,
        cut: () => {
          cut = true;
          controller.abort();
        },
      };
    };
    const first = await follow(undefined, (seen) => seen.length === log.length);
    await first.done;
    first.cut();
    // Committed while nobody follows the session.
    const firstLive = 1 + sampleTurn('x').length;
    await produce(producer, firstLive, renames(0, 3));
    const second = await follow(first.offset(), (seen) => seen.length === 5);
    await parked(sessionId, 1);
    await produce(producer, firstLive + 3, renames(3, 2));
    await second.done;
    second.cut();
    expect(first.offset()).toBe(offset(log.length));
    expect([...first.seen, ...second.seen]).toEqual(await logOf(sessionId, account.token));
  });
});
