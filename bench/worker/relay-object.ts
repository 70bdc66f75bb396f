import { DurableObject } from 'cloudflare:workers';

/**
 * The ceiling Kiln is measured against: a bare Durable Object that broadcasts every producer frame
 * to every subscriber as it arrives. No storage, no validation, no sequencing, no batching; it
 * speaks just enough of Kiln's ingest protocol (`hello` → `ready`, `events` → `ack`) for the same
 * producer client to drive it. Hibernatable sockets, like the SessionDO's.
 */
export class RelayObject extends DurableObject {
  override async fetch(request: Request): Promise<Response> {
    const role = new URL(request.url).searchParams.get('role') === 'producer' ? 'producer' : 'sub';
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [role]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== 'string' || this.ctx.getTags(ws)[0] !== 'producer') return;
    const frame = JSON.parse(message) as { type: string; firstProducerSeq?: number; events?: [] };
    if (frame.type === 'hello') {
      ws.send('{"type":"ready","ackedProducerSeq":0}');
    } else if (frame.type === 'events' && frame.events) {
      for (const sub of this.ctx.getWebSockets('sub')) {
        try {
          sub.send(message);
        } catch {
          // A subscriber that went away; its close handler has nothing to clean up.
        }
      }
      const last = (frame.firstProducerSeq ?? 1) + frame.events.length - 1;
      ws.send(`{"type":"ack","producerSeq":${last}}`);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, 'closed');
    } catch {
      // Already closed.
    }
  }
}
