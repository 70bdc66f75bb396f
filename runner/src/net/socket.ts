import { apiError } from '@kiln/protocol';
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
