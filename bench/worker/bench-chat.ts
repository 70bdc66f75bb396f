import { AIChatAgent } from '@cloudflare/ai-chat';
import { streamText } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';

/**
 * The Cloudflare Agents SDK peer: an `AIChatAgent` whose model is the AI SDK's mock, streaming
 * `count` text deltas at `rate` per second (0 = as fast as it can). Each delta is a bench marker
 * `~<index>:<ms>~` stamped when the mock emits it, so subscribers measure emit → receive. The
 * request is the last user message's text: `count=N rate=R`.
 */
export class BenchChat extends AIChatAgent {
  override async onChatMessage() {
    const last = this.messages.at(-1);
    const text = last?.parts.map((p) => (p.type === 'text' ? p.text : '')).join('') ?? '';
    const count = Number(/count=(\d+)/.exec(text)?.[1] ?? 100);
    const rate = Number(/rate=(\d+)/.exec(text)?.[1] ?? 0);
    const model = new MockLanguageModelV4({
      doStream: async () => ({ stream: deltaStream(count, rate) }),
    });
    return streamText({ model, prompt: text }).toUIMessageStreamResponse();
  }
}

type Part = Parameters<ReadableStreamDefaultController['enqueue']>[0];

function deltaStream(count: number, rate: number): ReadableStream<Part> {
  let i = 0;
  const gapMs = rate > 0 ? 1000 / rate : 0;
  const started = Date.now();
  return new ReadableStream<Part>({
    async pull(controller) {
      if (i === 0) {
        controller.enqueue({ type: 'stream-start', warnings: [] });
        controller.enqueue({ type: 'text-start', id: 't' });
      }
      if (i < count) {
        if (gapMs > 0) {
          const due = started + i * gapMs;
          const wait = due - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        controller.enqueue({ type: 'text-delta', id: 't', delta: `~${i}:${Date.now()}~` });
        i++;
        return;
      }
      controller.enqueue({ type: 'text-end', id: 't' });
      controller.enqueue({
        type: 'finish',
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: {
          inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
          outputTokens: { total: count, text: count, reasoning: 0 },
        },
      });
      controller.close();
    },
  });
}
