export {
  DEMO_OUTPUT_DIR,
  DemoAgent,
  type DemoAgentOptions,
  type DemoCheckpoint,
  demoCheckpoint,
  demoOutputDir,
} from './demo-agent';
