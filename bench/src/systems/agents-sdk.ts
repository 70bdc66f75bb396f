import { randomUUID } from 'node:crypto';
import { now, Probe } from '../probe';
import type { BenchStack } from '../stack';
import { openWs } from './kiln';
import type { Channel, System } from './types';

const CHAT = 'cf_agent_use_chat_response';

/**
 * The Cloudflare Agents SDK peer: `BenchChat` (an `AIChatAgent`) in the bench workerd. The
 * producer is the agent itself (the AI SDK mock model streams the marked deltas), started by a
 * `cf_agent_use_chat_request`; subscribers are plain sockets on /agents/bench-chat/:name that get
 * every chunk broadcast. Resume uses its protocol: `cf_agent_stream_resume_request` →
 * `cf_agent_stream_resuming {id}` → `cf_agent_stream_resume_ack {id}` → the stream's chunks replayed.
 */
export class AgentsSdkSystem implements System {
  name = 'agents sdk';
  constructor(readonly stack: BenchStack) {}

  async open(): Promise<Channel> {
    const url = `${this.stack.server.replace(/^http/, 'ws')}/agents/bench-chat/${randomUUID()}`;
    let total = 0;
    /** Connects and waits until the whole stream's markers arrived (in any frame). */
    const catchUp = async (missed: number) => {
      const probe = new Probe(true, null, total);
      let how = 'messages on connect';
      const started = now();
      const ws = await openWs(url, undefined, (data, socket) => {
        const text = data.toString();
        if (text.includes('cf_agent_stream_resuming')) {
          how = 'stream replay from chunk 0';
          const { id } = JSON.parse(text) as { id: string };
          socket.send(JSON.stringify({ type: 'cf_agent_stream_resume_ack', id }));
        }
        probe.feed(data);
      });
      ws.send(JSON.stringify({ type: 'cf_agent_stream_resume_request' }));
      await probe.until(total - 1, 15_000).catch((error: Error) => {
        ws.terminate();
        throw new Error(`got ${probe.distinct()} of ${total} events (${how}): ${error.message}`);
      });
      const ms = now() - started;
      ws.terminate();
      return {
        ms,
        received: probe.distinct(),
        duplicates: probe.duplicates + probe.seenBelow(total - missed),
        how,
      };
    };
    return {
      resume: (missed) => catchUp(missed),
      hydrate: async () => (await catchUp(0)).ms,
      produce: async (count, rate) => {
        total += count;
        let finished: () => void = () => {};
        const done = new Promise<void>((r) => (finished = r));
        const id = randomUUID();
        const ws = await openWs(url, undefined, (data) => {
          const text = data.toString();
          if (text.includes(CHAT) && text.includes(id)) {
            const frame = JSON.parse(text) as { done?: boolean };
            if (frame.done) finished();
          }
        });
        const started = now();
        ws.send(
          JSON.stringify({
            type: 'cf_agent_use_chat_request',
            id,
            init: {
              method: 'POST',
              body: JSON.stringify({
                messages: [
                  {
                    id: randomUUID(),
                    role: 'user',
                    parts: [{ type: 'text', text: `count=${count} rate=${rate}` }],
                  },
                ],
              }),
            },
          }),
        );
        const timeout = setTimeout(finished, 300_000);
        await done;
        clearTimeout(timeout);
        const ms = now() - started;
        ws.close();
        return { ms, events: count };
      },
      subscribe: async (probe, missed = 0) => {
        const ws = await openWs(url, undefined, (data, socket) => {
          if (!data.includes(CHAT)) {
            probe.countOnly(data.length);
            const text = data.toString();
            if (missed > 0 && text.includes('cf_agent_stream_resuming')) {
              const { id } = JSON.parse(text) as { id: string };
              socket.send(JSON.stringify({ type: 'cf_agent_stream_resume_ack', id }));
            }
            return;
          }
          probe.feed(data);
        });
        if (missed > 0) ws.send(JSON.stringify({ type: 'cf_agent_stream_resume_request' }));
        return { close: () => ws.terminate() };
      },
    };
  }

  rss() {
    return this.stack.workerdRss();
  }
  async stop() {}
}
