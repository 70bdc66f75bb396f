import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ofType, RECORDED_DIR } from '../fixtures';
import { runTurn } from '../turn-harness';
import { ReplayAgent } from './replay-agent';

const recordings = fileURLToPath(RECORDED_DIR);
const agent = new ReplayAgent({ recordings, speed: 'max' });

describe('replay agent', () => {
  it('plays the recording the prompt names as one live turn, with turn-scoped ids', async () => {
    const { events, state } = await runTurn(agent, {
      workspace: recordings,
      prompt: 'codex-exec-file-change.jsonl',
      turnId: 'turn-a',
    });
    expect(ofType(events, 'turn-started')).toEqual([]);
    expect(state.turns.map((t) => t.status)).toEqual(['completed']);
    const messages = ofType(events, 'message-start');
    expect(messages.length).toBeGreaterThan(0);
    expect(messages.every((m) => m.messageId.startsWith('turn-a:'))).toBe(true);
  });

  it('takes the file from the model when it names a .jsonl', async () => {
    const { state } = await runTurn(agent, {
      workspace: recordings,
      prompt: 'anything',
      model: 'codex-exec-command.jsonl',
    });
    expect(state.toolCalls.length).toBeGreaterThan(0);
  });

  it('fails a recording cut before its result, keeping what it played', async () => {
    const error = await runTurn(agent, {
      workspace: recordings,
      prompt: 'claude-code-stream-json.jsonl',
    }).catch((e) => e);
    expect(error.run.state.toolCalls).toHaveLength(79);
    expect(error.run.state.turns[0].status).toBe('failed');
  });

  it('refuses a path outside its recordings directory', async () => {
    const error = await runTurn(agent, {
      workspace: recordings,
      prompt: '../../main/package.jsonl',
    }).catch((e) => e);
    expect(String(error)).toMatch(/outside/);
  });
});
