import type { SessionState } from '@kiln/protocol';
import logUpdate from 'log-update';
import { resolveServerConfig } from '../config/server-config';
import { socketUrl } from '../net/http';
import type { CommandIo } from '../replay/replay-command';
import { renderSession } from './render';
import { SessionSubscriber } from './session-subscriber';

/** `kiln watch SESSION …` options, as parsed by the CLI. */
export interface WatchOptions {
  sessionId: string;
  json?: boolean;
  server?: string;
  token?: string;
}

/** Statuses of a session that is still going: `--json` waits past them. */
const LIVE_STATUSES = new Set<SessionState['status']>(['active', 'queued']);

/** Redraws at most this often, ms: a fast replay sends hundreds of frames a second. */
const RENDER_INTERVAL_MS = 100;

/**
 * Follows a session. With `json`, prints the state once as one JSON line when the session has
 * events, is caught up and is not active or queued, then resolves. Without it, draws a live view
 * until `signal` aborts (Ctrl-C). Errors: `ConfigError`, `ServerError` (401/403/404 …).
 */
export async function watch(
  options: WatchOptions,
  io: CommandIo,
  signal?: AbortSignal,
): Promise<void> {
  const config = resolveServerConfig({ server: options.server, token: options.token });
  const url = socketUrl(config.server, `/api/sessions/${encodeURIComponent(options.sessionId)}/ws`);
  let latest: SessionState | null = null;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    timer = undefined;
    if (latest)
      logUpdate(
        renderSession(latest, {
          color: process.stdout.isTTY === true,
          width: process.stdout.columns ?? 100,
        }),
      );
  };
  const subscriber: SessionSubscriber = new SessionSubscriber({
    url,
    token: config.token,
    sessionId: options.sessionId,
    onNotice: (message) => io.err(message),
    onState: (state, caughtUp) => {
      latest = state;
      if (options.json) {
        if (caughtUp && state.headSeq > 0 && !LIVE_STATUSES.has(state.status)) {
          io.out(JSON.stringify(state));
          subscriber.close();
        }
        return;
      }
      timer ??= setTimeout(draw, RENDER_INTERVAL_MS);
    },
  });
  signal?.addEventListener('abort', () => subscriber.close(), { once: true });
  subscriber.start();
  try {
    await subscriber.done;
  } finally {
    if (!options.json) {
      clearTimeout(timer);
      draw();
      logUpdate.done();
    }
  }
}
