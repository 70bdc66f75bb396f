export {
  AiSdkAgent,
  type AiSdkAgentOptions,
  type AiSdkCheckpoint,
  aiSdkCheckpoint,
  SYSTEM_PROMPT,
} from './ai-sdk-agent';
export { costUsd, type ModelPrice, PRICES_USD_PER_MTOK, priceOf, tokenCounts } from './prices';
export { DEFAULT_MODELS, NoProviderError, type SelectedModel, selectModel } from './provider';
