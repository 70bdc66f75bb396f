import { describe, expect, it } from 'vitest';
import { createAgents } from './agents';

const names = (env: NodeJS.ProcessEnv) =>
  createAgents({ env, recordings: '.', speed: 'max' }).map((a) => ({
    name: a.name,
    available: !a.unavailable?.(),
  }));

describe('createAgents', () => {
  it('offers demo and replay with nothing configured; the CLI agents exist but are unavailable without their CLIs', () => {
    expect(names({ PATH: '' })).toEqual([
      { name: 'demo', available: true },
      { name: 'replay', available: true },
      { name: 'claude-code', available: false },
      { name: 'codex', available: false },
    ]);
  });

  it('adds ai-sdk when a model provider is configured', () => {
    for (const env of [
      { ANTHROPIC_API_KEY: 'k' },
      { OPENAI_API_KEY: 'k' },
      { OPENAI_BASE_URL: 'http://localhost:11434/v1' },
    ]) {
      expect(names({ PATH: '', ...env }).map((a) => a.name)).toContain('ai-sdk');
    }
  });
});
