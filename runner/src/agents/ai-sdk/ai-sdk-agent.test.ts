import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunnerEventBody } from '@kiln/protocol';
import { convertArrayToReadableStream, MockLanguageModelV4 } from 'ai/test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTurn, tempWorkspace } from '../turn-harness';
import { AiSdkAgent } from './ai-sdk-agent';

/** The provider-level stream part a mock model emits (from `ai/test`'s own types). */
type LanguageModelV4StreamPart =
  Awaited<ReturnType<MockLanguageModelV4['doStream']>>['stream'] extends ReadableStream<infer Part>
    ? Part
    : never;

let ws: Awaited<ReturnType<typeof tempWorkspace>>;
beforeEach(async () => {
  ws = await tempWorkspace();
  // A project whose build fails while app.js still has a TODO in it.
  await writeFile(
    path.join(ws.root, 'package.json'),
    JSON.stringify({ name: 'p', private: true, scripts: { build: 'node check.mjs' } }),
  );
  await writeFile(
    path.join(ws.root, 'check.mjs'),
    `import { readFileSync } from 'node:fs';
const lines = readFileSync('app.js', 'utf8').split('\\n');
const bad = lines.findIndex((l) => l.includes('TODO'));
if (bad >= 0) { console.error('app.js:' + (bad + 1) + ': TODO left in the code'); process.exit(1); }
console.log('ok');
`,
  );
});
afterEach(async () => {
  await ws.dispose();
});

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: output, text: output, reasoning: 0 },
});
const toolCall = (id: string, toolName: string, input: unknown): LanguageModelV4StreamPart[] => [
  { type: 'stream-start', warnings: [] },
  { type: 'tool-call', toolCallId: id, toolName, input: JSON.stringify(input) },
  {
    type: 'finish',
    usage: usage(100, 20),
    finishReason: { unified: 'tool-calls', raw: 'tool_use' },
  },
];
const say = (text: string, reasoning?: string): LanguageModelV4StreamPart[] => [
  { type: 'stream-start', warnings: [] },
  ...(reasoning
    ? ([
        { type: 'reasoning-start', id: 'r' },
        { type: 'reasoning-delta', id: 'r', delta: reasoning },
        { type: 'reasoning-end', id: 'r' },
      ] as const)
    : []),
  { type: 'text-start', id: 't' },
  ...text
    .split(' ')
    .map((word, i) => ({ type: 'text-delta' as const, id: 't', delta: i ? ` ${word}` : word })),
  { type: 'text-end', id: 't' },
  { type: 'finish', usage: usage(200, 10), finishReason: { unified: 'stop', raw: 'end_turn' } },
];

/** A mock model that plays one scripted response per call. */
function scripted(responses: LanguageModelV4StreamPart[][], modelId = 'mock-model') {
  let call = 0;
  return new MockLanguageModelV4({
    modelId,
    doStream: async () => {
      const parts = responses[call++];
      if (!parts) throw new Error(`the script has no response for call ${call}`);
      return { stream: convertArrayToReadableStream(parts) };
    },
  });
}
/** All text of a call's prompt (to check what the model was shown). */
const promptText = (model: MockLanguageModelV4, call: number) =>
  JSON.stringify(model.doStreamCalls[call]?.prompt);

describe('ai-sdk agent', () => {
  it('runs a multi-step tool turn, recovers from an edit_file error, and fixes a failing build', async () => {
    const model = scripted([
      toolCall('c1', 'write_file', { path: 'app.js', content: 'const x = 1;\n// TODO\n' }),
      toolCall('c2', 'edit_file', {
        path: 'app.js',
        oldString: 'const y = 1;',
        newString: 'const y = 2;',
      }),
      toolCall('c3', 'edit_file', {
        path: 'app.js',
        oldString: 'const x = 1;',
        newString: 'const x = 2;',
      }),
      say('Wrote app.js.', 'The user wants app.js.'),
      // Round 2, after the build failure was fed back:
      toolCall('c4', 'edit_file', { path: 'app.js', oldString: '// TODO\n', newString: '' }),
      say('Removed the TODO; the build passes.'),
    ]);
    const agent = new AiSdkAgent({ model: { model, modelId: 'mock-model' } });
    const { events, state, checkpoint } = await runTurn(agent, {
      workspace: ws.root,
      prompt: 'Write app.js',
    });

    expect(await readFile(path.join(ws.root, 'app.js'), 'utf8')).toBe('const x = 2;\n');
    expect(model.doStreamCalls).toHaveLength(6);
    // The model saw the edit_file error and the build failure.
    expect(promptText(model, 2)).toMatch(/0 matches/);
    expect(promptText(model, 4)).toMatch(/app\.js:2: TODO left in the code/);

    const calls = state.toolCalls.map((c) => [c.toolCallId, c.toolName, c.isError]);
    expect(calls).toEqual([
      ['c1', 'write_file', false],
      ['c2', 'edit_file', true],
      ['c3', 'edit_file', false],
      ['turn-1-r1-build', 'run_command', true],
      ['c4', 'edit_file', false],
      ['turn-1-r2-build', 'run_command', false],
    ]);
    expect(
      state.toolCalls.every((c) => c.status === 'done' && typeof c.durationMs === 'number'),
    ).toBe(true);
    const diagnostics = events.filter((e) => e.type === 'diagnostics');
    expect(diagnostics).toEqual([
      {
        type: 'diagnostics',
        source: 'npm run build',
        errors: [{ file: 'app.js', line: 2, message: 'TODO left in the code' }],
      },
      { type: 'diagnostics', source: 'npm run build', errors: [] },
    ]);

    expect(state.messages.map((m) => [m.text, m.reasoning, m.status])).toEqual([
      ['Wrote app.js.', 'The user wants app.js.', 'done'],
      ['Removed the TODO; the build passes.', '', 'done'],
    ]);
    // One usage event per step; the mock model has no price, so no cost.
    const usages = events.filter((e) => e.type === 'usage');
    expect(usages).toHaveLength(6);
    expect(state.usage).toMatchObject({
      inputTokens: 4 * 100 + 2 * 200,
      outputTokens: 4 * 20 + 2 * 10,
    });
    expect(usages.every((u) => u.type === 'usage' && u.costUsd === undefined)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'checkpoint', agent: 'ai-sdk' });
    expect(checkpoint).toMatchObject({ version: 1, messages: expect.any(Array) });
  });

  it('continues the conversation from the checkpoint on the next turn', async () => {
    const first = scripted([say('Hello there.')]);
    const turn1 = await runTurn(new AiSdkAgent({ model: { model: first, modelId: 'm' } }), {
      workspace: ws.root,
      prompt: 'Say hello',
    });
    const second = scripted([say('You asked me to say hello.')]);
    await runTurn(new AiSdkAgent({ model: { model: second, modelId: 'm' } }), {
      workspace: ws.root,
      prompt: 'What did I ask?',
      turnId: 'turn-2',
      checkpoint: turn1.checkpoint,
    });
    const prompt = second.doStreamCalls[0]?.prompt ?? [];
    expect(prompt.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(JSON.stringify(prompt)).toMatch(/Say hello.*Hello there.*What did I ask/);
  });

  it('prices usage from the price table for a known model', async () => {
    const model = scripted([say('Hi.')], 'claude-sonnet-4-5');
    const { events } = await runTurn(
      new AiSdkAgent({ model: { model, modelId: 'claude-sonnet-4-5' } }),
      {
        workspace: ws.root,
        prompt: 'hi',
      },
    );
    const usageEvent = events.find(
      (e): e is Extract<RunnerEventBody, { type: 'usage' }> => e.type === 'usage',
    );
    // 200 input tokens at $3/M + 10 output tokens at $15/M.
    expect(usageEvent?.costUsd).toBeCloseTo(200 * 3e-6 + 10 * 15e-6, 10);
  });

  it('stops within a second when the turn is interrupted mid-stream', async () => {
    const controller = new AbortController();
    const model = new MockLanguageModelV4({
      doStream: async ({ abortSignal }) => ({
        // A stream that sends one delta and then waits forever (until aborted).
        stream: new ReadableStream<LanguageModelV4StreamPart>({
          start(c) {
            c.enqueue({ type: 'stream-start', warnings: [] });
            c.enqueue({ type: 'text-start', id: 't' });
            c.enqueue({ type: 'text-delta', id: 't', delta: 'Working' });
            abortSignal?.addEventListener('abort', () => c.error(abortSignal.reason));
          },
        }),
      }),
    });
    let abortedAt = 0;
    const run = runTurn(
      new AiSdkAgent({ model: { model, modelId: 'm' } }),
      { workspace: ws.root, prompt: 'go', signal: controller.signal },
      (event) => {
        if (event.type === 'text-delta' && !abortedAt) {
          abortedAt = performance.now();
          setImmediate(() => controller.abort());
        }
      },
    );
    await expect(run).rejects.toBeDefined();
    expect(performance.now() - abortedAt).toBeLessThan(1_000);
  });
});
