import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack } from './harness';

/**
 * workerd's own WebSocket message limit (32 MiB, far above MAX_FRAME_BYTES) can be reached only
 * over a real network socket: inside vitest's workerd a 33 MiB frame reaches the object (which
 * answers `frame-too-large`). Over the dev stack's real sockets workerd refuses it while reading:
 * the client must still get a close frame with code 1009 and a reason, and the object must go on
 * serving (the failed socket is dropped in `webSocketError`).
 */
let stack: Awaited<ReturnType<typeof startTestStack>>;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

const OVER_WORKERD_LIMIT = 'x'.repeat(32 * 1024 * 1024 + 1);

/** Node's WebSocket (undici) takes `{headers}` too, which the DOM typing it is declared with lacks. */
const NodeWebSocket = WebSocket as unknown as new (
  url: string,
  init: { headers: Record<string, string> },
) => WebSocket;

/** Opens `path` as the dev account. */
function open(path: string): Promise<WebSocket> {
  const url = stack.config.server.replace(/^http/, 'ws') + path;
  const ws = new NodeWebSocket(url, { headers: { authorization: `Bearer ${stack.config.token}` } });
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(ws), { once: true });
    ws.addEventListener('error', () => reject(new Error(`${path}: upgrade failed`)), {
      once: true,
    });
  });
}

const closeOf = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason }), {
      once: true,
    }),
  );

describe('a frame over workerd’s 32 MiB limit', () => {
  it('closes the session, project and ingest sockets with 1009 and a reason; the objects go on serving', async () => {
    const { server, token, projectId } = stack.config;
    const sessionId = crypto.randomUUID();
    const lease = await fetch(`${server}/api/projects/${projectId}/sessions/${sessionId}/builds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'replay', model: 'm' }),
    });
    expect(lease.status).toBe(201);
    for (const path of [
      `/api/sessions/${sessionId}/ws`,
      `/api/projects/${projectId}/ws`,
      `/api/sessions/${sessionId}/ingest`,
    ]) {
      const ws = await open(path);
      const closed = closeOf(ws);
      ws.send(OVER_WORKERD_LIMIT);
      expect(await closed, path).toEqual({
        code: 1009,
        reason: expect.stringContaining('Message is too large'),
      });
      // The object serves the next socket as before.
      const next = await open(path);
      const first = new Promise<string>((resolve) =>
        next.addEventListener('message', (e) => resolve(String(e.data)), { once: true }),
      );
      if (path.endsWith('/ingest')) next.send(JSON.stringify({ type: 'ping' }));
      expect(await first, path).toMatch(/"type":"(ready|pong)"/);
      next.close();
    }
  });
});
