export { DemoAgent } from './demo-agent';
