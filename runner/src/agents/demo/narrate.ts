import { setTimeout as sleep } from 'node:timers/promises';
import type { RunnerEventBody } from '@kiln/protocol';

/**
 * Streams `text` as one assistant message: `message-start`, a `text-delta` per chunk of about
 * `wordsPerChunk` words with `delayMs` between chunks (a human reading pace; 0 in tests), then
 * `message-finish`. Rejects with the signal's reason as soon as it aborts (mid-message: no finish).
 */
export async function narrate(
  emit: (event: RunnerEventBody) => void,
  messageId: string,
  text: string,
  options: { delayMs: number; signal: AbortSignal; wordsPerChunk?: number },
): Promise<void> {
  const { delayMs, signal, wordsPerChunk = 3 } = options;
  signal.throwIfAborted();
  emit({ type: 'message-start', messageId, role: 'assistant' });
  const words = text.match(/\S+\s*/g) ?? [];
  for (let i = 0; i < words.length; i += wordsPerChunk) {
    if (i > 0 && delayMs > 0) await sleep(delayMs, undefined, { signal });
    signal.throwIfAborted();
    emit({ type: 'text-delta', messageId, delta: words.slice(i, i + wordsPerChunk).join('') });
  }
  emit({ type: 'message-finish', messageId, finishReason: 'stop' });
}
