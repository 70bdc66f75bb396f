import type { LanguageModelUsage } from 'ai';

/** Prices of one model in US dollars per million tokens. */
interface ModelPrice {
  input: number;
  output: number;
  /** Cached input read (Anthropic "cache hits", OpenAI "cached input"). */
  cacheRead: number;
  /** Cache writes (Anthropic's 5-minute rate); OpenAI charges none. */
  cacheWrite: number;
}

/**
 * USD per million tokens, matched by the longest model-id prefix. Sources: Anthropic's pricing
 * page (platform.claude.com/docs/en/about-claude/pricing) and OpenAI's (openai.com/api/pricing),
 * as published mid-2026. Prices change: a model missing here gets no `costUsd` rather than a
 * wrong one. Reasoning tokens are billed as output tokens by both providers.
 */
const PRICES_USD_PER_MTOK: Readonly<Record<string, ModelPrice>> = {
  'claude-fable-5': { input: 10, output: 50, cacheRead: 1, cacheWrite: 12.5 },
  'claude-fable-5-1': { input: 10, output: 50, cacheRead: 0.25, cacheWrite: 12.5 },
  'claude-opus-5': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-5': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-6': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-7': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-8': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-1': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-sonnet-5': { input: 2, output: 10, cacheRead: 0.2, cacheWrite: 2.5 },
  'claude-sonnet-4-5': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-haiku-4-5': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  'gpt-5.5': { input: 5, output: 30, cacheRead: 0.5, cacheWrite: 0 },
  'gpt-5.4': { input: 2.5, output: 15, cacheRead: 0.25, cacheWrite: 0 },
  'gpt-5.4-mini': { input: 0.75, output: 4.5, cacheRead: 0.075, cacheWrite: 0 },
  'gpt-5.4-nano': { input: 0.2, output: 1.25, cacheRead: 0.02, cacheWrite: 0 },
  'gpt-5': { input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0 },
  'gpt-5-mini': { input: 0.25, output: 2, cacheRead: 0.025, cacheWrite: 0 },
  'gpt-4.1': { input: 2, output: 8, cacheRead: 0.5, cacheWrite: 0 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6, cacheRead: 0.1, cacheWrite: 0 },
  'gpt-4o': { input: 2.5, output: 10, cacheRead: 1.25, cacheWrite: 0 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cacheRead: 0.075, cacheWrite: 0 },
};

/** The price of a model id (longest matching prefix), or undefined when unknown. */
function priceOf(modelId: string): ModelPrice | undefined {
  let best: string | undefined;
  for (const prefix of Object.keys(PRICES_USD_PER_MTOK)) {
    if (modelId.startsWith(prefix) && (!best || prefix.length > best.length)) best = prefix;
  }
  return best ? PRICES_USD_PER_MTOK[best] : undefined;
}

/** Token counts in the protocol's sense: `inputTokens` excludes cache reads and writes. */
export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
}

/** The AI SDK's usage of one step as protocol token counts (missing counts are 0). */
export function tokenCounts(usage: LanguageModelUsage): TokenCounts {
  const cacheReadTokens = usage.inputTokenDetails?.cacheReadTokens ?? 0;
  const cacheWriteTokens = usage.inputTokenDetails?.cacheWriteTokens ?? 0;
  const inputTokens =
    usage.inputTokenDetails?.noCacheTokens ??
    Math.max(0, (usage.inputTokens ?? 0) - cacheReadTokens - cacheWriteTokens);
  return {
    inputTokens,
    outputTokens: usage.outputTokens ?? 0,
    cacheReadTokens,
    cacheWriteTokens,
    reasoningTokens: usage.outputTokenDetails?.reasoningTokens ?? 0,
  };
}

/** The cost of some tokens in USD, or undefined when the model's price is unknown. */
export function costUsd(modelId: string, tokens: TokenCounts): number | undefined {
  const price = priceOf(modelId);
  if (!price) return undefined;
  const perToken = (count: number, usdPerMillion: number) => (count * usdPerMillion) / 1_000_000;
  return (
    perToken(tokens.inputTokens, price.input) +
    perToken(tokens.outputTokens, price.output) +
    perToken(tokens.cacheReadTokens, price.cacheRead) +
    perToken(tokens.cacheWriteTokens, price.cacheWrite)
  );
}
