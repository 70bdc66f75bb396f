import {
  type ConformanceSession,
  runConformanceTests,
  type SocketHandlers,
  type SocketSender,
} from '@kiln/protocol/conformance';
import { WebSocket } from 'ws';
import { FakeKilnServer } from './fake-kiln-server';

/**
 * The protocol conformance suite against the runner's FakeKilnServer, over real sockets in Node:
 * the fake that the runner's own tests trust has to keep the SessionDO's contract. Each session
 * is a server of its own (the fake holds one session, `s1`).
 */
runConformanceTests({
  name: 'FakeKilnServer (Node)',
  capabilities: {
    // The fake's `committed` keeps one entry per producer seq, which the runner's producer tests
    // compare with what they sent; merging deltas or dropping late turn ends would break them.
    coalescesDeltas: false,
    exactlyOnceTurnEnds: false,
    // The fake ignores `send`, `interrupt` and `ack`: no runner client under test uses them.
    clientCommands: false,
    flowControl: false,
    shardThreshold: false,
  },
  async session(): Promise<ConformanceSession> {
    const server = new FakeKilnServer();
    const ingestUrl = await server.start();
    const sessionId = 's1';
    const lease = await fetch(`${server.origin}/api/projects/p1/sessions/${sessionId}/builds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    if (lease.status !== 201) throw new Error(`lease refused: ${lease.status}`);
    const { buildId } = (await lease.json()) as { buildId: string };
    const open = (url: string, handlers: SocketHandlers) => connect(url, server.token, handlers);
    return {
      sessionId,
      buildId,
      openSubscriber: (handlers) => open(ingestUrl.replace(/\/ingest$/, '/ws'), handlers),
      openIngest: (handlers) => open(ingestUrl, handlers),
      log: async () => server.sessionEvents(1),
      dispose: () => server.stop(),
    };
  },
});

/** Opens `url` with the bearer token; `handlers` are installed before the socket opens. */
function connect(url: string, token: string, handlers: SocketHandlers): Promise<SocketSender> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) handlers.onText(data.toString());
  });
  ws.on('close', (code, reason) => handlers.onClose(code, reason.toString()));
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        send: (text) => ws.send(text),
        close: () => ws.close(1000, 'done'),
      }),
    );
  });
}
