import {
  type ConformanceSession,
  runConformanceTests,
  type SocketHandlers,
  type SocketSender,
} from '@kiln/protocol/conformance';
import { api, leaseBuild, logOf, seedAccount } from './helpers';

/**
 * The protocol conformance suite against the real SessionDO in workerd: every session is a fresh
 * account, project and leased build; sockets go through the worker's routes (auth included).
 */
runConformanceTests({
  name: 'SessionDO (workerd)',
  capabilities: {
    coalescesDeltas: true,
    exactlyOnceTurnEnds: true,
    clientCommands: true,
    flowControl: true,
    // SHARD_THRESHOLD in worker/vitest.config.ts.
    shardThreshold: 2,
  },
  async session(): Promise<ConformanceSession> {
    const account = await seedAccount();
    const sessionId = crypto.randomUUID();
    const { buildId } = await leaseBuild(account, sessionId);
    const open = async (kind: 'ws' | 'ingest', handlers: SocketHandlers) =>
      sender(await upgrade(`/api/sessions/${sessionId}/${kind}`, account.token, handlers));
    return {
      sessionId,
      buildId,
      openSubscriber: (handlers) => open('ws', handlers),
      openIngest: (handlers) => open('ingest', handlers),
      log: () => logOf(sessionId, account.token),
      // Sockets stay open, as in the other worker tests: closing them as the file ends races a
      // viewer shard's close-time RPC to its session with the test environment's teardown
      // (EnvironmentTeardownError). Every session is its own object, so nothing carries over.
      dispose: async () => {},
    };
  },
});

/** Upgrades `path` as `token` and installs `handlers` before the socket can deliver anything. */
async function upgrade(path: string, token: string, handlers: SocketHandlers): Promise<WebSocket> {
  const res = await api(path, token, { headers: { Upgrade: 'websocket' } });
  const ws = res.webSocket;
  if (res.status !== 101 || !ws) throw new Error(`upgrade refused: ${res.status}`);
  ws.addEventListener('message', (event) => {
    if (typeof event.data === 'string') handlers.onText(event.data);
  });
  ws.addEventListener('close', (event) => handlers.onClose(event.code, event.reason));
  ws.accept();
  return ws;
}

function sender(ws: WebSocket): SocketSender {
  return {
    send: (text) => ws.send(text),
    close: () => {
      try {
        ws.close(1000, 'done');
      } catch {
        // Already closed by the server: nothing to close.
      }
    },
  };
}
