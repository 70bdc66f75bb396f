import type { Agent } from '../agents/agent';
import { AiSdkAgent } from '../agents/ai-sdk';
import { claudeCodeAgent } from '../agents/claude-code/claude-code-agent';
import { codexAgent } from '../agents/codex/codex-agent';
import { DemoAgent } from '../agents/demo';
import { ReplayAgent } from '../agents/replay/replay-agent';
import type { Speed } from '../replay/pacing';

/** What decides which agents a runner offers. */
export interface AgentSetup {
  env: NodeJS.ProcessEnv;
  /** Directory the `replay` agent reads recordings from. */
  recordings: string;
  /** Pace of the `replay` agent. */
  speed: Speed;
  /** Pause between the demo agent's streamed chunks, ms. */
  demoChunkDelayMs?: number;
  /** The demo agent waits after its opening message until interrupted, in turns whose prompt contains this (tests). */
  demoHoldOnPrompt?: string;
}

/**
 * The runner's agents (DESIGN §6): `demo` and `replay` always; `ai-sdk` when a model provider is
 * configured (ANTHROPIC_API_KEY, OPENAI_API_KEY, OPENAI_BASE_URL); `claude-code` and `codex`
 * always registered but advertised only while their CLI is on PATH (`unavailable()`).
 */
export function createAgents(setup: AgentSetup): Agent[] {
  const { env } = setup;
  const agents: Agent[] = [
    new DemoAgent({
      ...(setup.demoChunkDelayMs !== undefined ? { chunkDelayMs: setup.demoChunkDelayMs } : {}),
      ...(setup.demoHoldOnPrompt ? { holdOnPrompt: setup.demoHoldOnPrompt } : {}),
    }),
    new ReplayAgent({ recordings: setup.recordings, speed: setup.speed }),
    claudeCodeAgent({ env }),
    codexAgent({ env }),
  ];
  if (env.ANTHROPIC_API_KEY || env.OPENAI_API_KEY || env.OPENAI_BASE_URL) {
    agents.push(new AiSdkAgent({ env }));
  }
  return agents;
}
