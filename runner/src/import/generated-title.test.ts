import { MockLanguageModelV4 } from 'ai/test';
import { describe, expect, it } from 'vitest';
import { generateTitle } from './generated-title';

/** A mock model that answers every call with `text`. */
function answering(text: string) {
  return new MockLanguageModelV4({
    doGenerate: async () => ({
      content: [{ type: 'text', text }],
      finishReason: { unified: 'stop', raw: 'end_turn' },
      usage: {
        inputTokens: { total: 50, noCache: 50, cacheRead: 0, cacheWrite: 0 },
        outputTokens: { total: 6, text: 6, reasoning: 0 },
      },
      warnings: [],
    }),
  });
}

describe('generated titles', () => {
  it('are the model’s one line, without quotes or a trailing period, from the prompt it was shown', async () => {
    const model = answering('"Fix login redirect loop."\n');
    const prompt = 'The login page keeps redirecting to itself after I sign in; please fix it.';
    expect(await generateTitle(model, prompt)).toBe('Fix login redirect loop');
    expect(JSON.stringify(model.doGenerateCalls[0]?.prompt)).toContain('keeps redirecting');
  });

  it('fall back to the trimmed prompt when the model answers nothing usable', async () => {
    expect(await generateTitle(answering(' "" '), 'Add dark mode\nto the settings page')).toBe(
      'Add dark mode',
    );
  });
});
