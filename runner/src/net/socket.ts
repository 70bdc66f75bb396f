import { setTimeout as sleep } from 'node:timers/promises';
import { apiError } from '@kiln/protocol';
import pRetry from 'p-retry';
import WebSocket from 'ws';
import { describeStatus, ServerError } from './errors';

/**
 * Opens a WebSocket with `Authorization: Bearer TOKEN` (browsers cannot send that header; the
 * `ws` package can). Resolves once open. Errors: `ServerError` with the HTTP status when the
 * server refuses the upgrade, status 0 when it cannot be reached. `onMessage` is attached before
 * the socket opens: a server that speaks first (`ready`) can send in the same packet as the
 * upgrade, and `ws` emits that message before a promise continuation could attach a listener.
 */
export function openSocket(
  url: string,
  token: string,
  onMessage: (ws: WebSocket, text: string) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    ws.on('message', (data) => onMessage(ws, data.toString()));
    let settled = false;
    const settle = (error?: ServerError) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve(ws);
    };
    ws.once('open', () => settle());
    ws.on('error', (cause) => {
      settle(
        new ServerError(`cannot connect to ${url}: ${cause.message}`, 0, undefined, { cause }),
      );
    });
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        const parsed = safeJson(body);
        const error = apiError.safeParse(parsed);
        const message = error.success ? error.data.error.message : response.statusMessage || body;
        settle(
          new ServerError(
            `${new URL(url).pathname}: ${describeStatus(status, message)}`,
            status,
            error.success ? error.data.error.code : undefined,
          ),
        );
        ws.terminate();
      });
    });
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON: the caller falls back to the status text
  }
}

/** How `keepConnected` reconnects. */
export interface KeepConnectedOptions {
  /** What the socket is, for notices (`ingest socket`, `session socket`). */
  label: string;
  /** Aborting ends the loop (and any wait in it). */
  signal: AbortSignal;
  /** The loop goes on while this holds. */
  active: () => boolean;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  onNotice?: (message: string) => void;
}

/**
 * Connects with `connect`, and when the connection closes connects again, until `active()` is
 * false or `signal` aborts. Failed attempts back off exponentially with jitter (p-retry, from
 * `minRetryDelayMs` = 250 to `maxRetryDelayMs` = 10,000 ms), and a connection that drops is
 * followed by a short jittered pause, so a socket dropped right after opening never becomes a
 * tight loop. Rejects with the error of a permanent refusal (`ServerError.permanent`: a bad token,
 * a forbidden session); resolves when stopped.
 */
export async function keepConnected(
  connect: () => Promise<{ closed: Promise<void> }>,
  options: KeepConnectedOptions,
): Promise<void> {
  const minTimeout = options.minRetryDelayMs ?? 250;
  const maxTimeout = options.maxRetryDelayMs ?? 10_000;
  const permanent = (error: unknown) => error instanceof ServerError && error.permanent;
  let first = true;
  while (options.active() && !options.signal.aborted) {
    if (!first) {
      options.onNotice?.(`${options.label} closed; reconnecting`);
      await sleep(minTimeout * (1 + Math.random()), undefined, { signal: options.signal }).catch(
        () => undefined, // aborted: the loop condition ends it
      );
      if (!options.active() || options.signal.aborted) return;
    }
    first = false;
    const connection = await pRetry(connect, {
      retries: Number.POSITIVE_INFINITY,
      minTimeout,
      maxTimeout,
      randomize: true,
      signal: options.signal,
      shouldRetry: ({ error }) => !permanent(error),
      onFailedAttempt: ({ error, retryDelay }) => {
        if (!permanent(error)) options.onNotice?.(`${error.message}; retrying in ${retryDelay} ms`);
      },
    }).catch((error: unknown) => {
      // Stopped while connecting: not a failure.
      if (!options.active() || options.signal.aborted) return undefined;
      throw error;
    });
    if (!connection) return;
    await connection.closed;
  }
}
