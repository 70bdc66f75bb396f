import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';

/** Default model per provider when neither the build nor `KILN_MODEL` names one. */
const DEFAULT_MODELS = {
  anthropic: 'claude-sonnet-4-5',
  openai: 'gpt-5-mini',
  'openai-compatible': 'llama3.1',
} as const;

/** A model chosen from the environment. */
export interface SelectedModel {
  model: LanguageModel;
  provider: keyof typeof DEFAULT_MODELS;
  modelId: string;
}

/** No provider is configured. */
export class NoProviderError extends Error {
  override readonly name = 'NoProviderError';
  constructor() {
    super(
      'ai-sdk agent: set ANTHROPIC_API_KEY, OPENAI_API_KEY, or OPENAI_BASE_URL for an OpenAI-compatible server such as Ollama.',
    );
  }
}

/**
 * Picks the provider from environment variables: `ANTHROPIC_API_KEY` → Anthropic (optional
 * `ANTHROPIC_BASE_URL`); else `OPENAI_BASE_URL` (with `OPENAI_API_KEY` if the server wants one)
 * → any OpenAI-compatible chat-completions server (Ollama, vLLM); else `OPENAI_API_KEY` → OpenAI. The model id is
 * `requested` (the build's), else `KILN_MODEL`, else the provider's default. Throws
 * `NoProviderError` when no key is set.
 */
export function selectModel(env: NodeJS.ProcessEnv, requested = ''): SelectedModel {
  const pick = (provider: keyof typeof DEFAULT_MODELS) =>
    requested || env.KILN_MODEL || DEFAULT_MODELS[provider];
  if (env.ANTHROPIC_API_KEY) {
    const modelId = pick('anthropic');
    const anthropic = createAnthropic({
      apiKey: env.ANTHROPIC_API_KEY,
      ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
    });
    return { model: anthropic(modelId), provider: 'anthropic', modelId };
  }
  if (env.OPENAI_BASE_URL) {
    const modelId = pick('openai-compatible');
    const compatible = createOpenAICompatible({
      name: 'openai-compatible',
      baseURL: env.OPENAI_BASE_URL,
      // Local servers (Ollama) need no key; send one only when it is set.
      ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}),
      // Ask for the usage chunk at the end of the stream (`stream_options.include_usage`).
      includeUsage: true,
    });
    return { model: compatible.chatModel(modelId), provider: 'openai-compatible', modelId };
  }
  if (env.OPENAI_API_KEY) {
    const modelId = pick('openai');
    const openai = createOpenAI({ apiKey: env.OPENAI_API_KEY });
    return { model: openai(modelId), provider: 'openai', modelId };
  }
  throw new NoProviderError();
}
