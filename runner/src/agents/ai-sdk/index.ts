export { AiSdkAgent } from './ai-sdk-agent';
