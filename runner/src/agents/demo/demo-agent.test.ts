import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunnerEventBody } from '@kiln/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTurn, tempWorkspace } from '../turn-harness';
import { DemoAgent, demoOutputDir } from './demo-agent';

let ws: Awaited<ReturnType<typeof tempWorkspace>>;
beforeEach(async () => {
  ws = await tempWorkspace();
});
afterEach(async () => {
  await ws.dispose();
});

const PROMPT = 'Build a tomato garden journal where I can log harvests';
const agent = new DemoAgent({ chunkDelayMs: 0 });
const read = (file: string) => readFile(path.join(ws.root, file), 'utf8');
/** Events with their timing and machine-specific parts removed, to compare two runs. */
const stable = (events: RunnerEventBody[]) =>
  events.map((e) =>
    e.type === 'tool-output-available'
      ? { ...e, durationMs: 0, output: JSON.stringify(e.output).replace(/"durationMs":\d+/, '') }
      : e,
  );

describe('demo agent', () => {
  it('plans todos, writes a site from the prompt, builds it into dist/ and checkpoints', async () => {
    const { events, state, checkpoint } = await runTurn(agent, {
      workspace: ws.root,
      prompt: PROMPT,
    });

    const html = await read('index.html');
    expect(html).toContain('<title>Tomato Garden Journal Log Harvests</title>');
    expect(html).toMatch(/<h2>About Tomato<\/h2>/);
    expect(html).toContain('id="add-form"');
    expect(JSON.parse(await read('package.json')).scripts.build).toBe('node build.mjs');
    expect((await readdir(demoOutputDir(ws.root))).sort()).toEqual([
      'app.js',
      'index.html',
      'styles.css',
    ]);

    expect(state.turns[0]?.status).toBe('completed');
    expect(state.todos.length).toBeGreaterThanOrEqual(3);
    expect(state.todos.every((t) => t.status === 'completed')).toBe(true);
    expect(state.toolCalls.every((c) => c.status === 'done' && !c.isError)).toBe(true);
    expect(state.toolCalls.map((c) => c.toolName)).toContain('run_command');
    expect(state.messages.every((m) => m.status === 'done')).toBe(true);
    expect(state.messages[0]?.text).toContain('**Tomato Garden Journal Log Harvests**');
    expect(state.diagnostics?.errors).toEqual([]);
    expect(state.usageByModel.demo?.costUsd).toBe(0);

    // Todos move forward one at a time: each list has at most one in progress.
    const lists = events.flatMap((e) => (e.type === 'todos-updated' ? [e.todos] : []));
    expect(lists.length).toBeGreaterThanOrEqual(4);
    for (const list of lists)
      expect(list.filter((t) => t.status === 'in_progress').length).toBeLessThanOrEqual(1);

    expect(events.at(-1)).toMatchObject({ type: 'checkpoint', agent: 'demo' });
    expect(checkpoint).toMatchObject({
      turns: 1,
      files: expect.arrayContaining(['index.html', 'build.mjs']),
    });
  });

  it('emits the same events for the same prompt (deterministic)', async () => {
    const first = await runTurn(agent, { workspace: ws.root, prompt: PROMPT });
    const other = await tempWorkspace();
    try {
      const second = await runTurn(agent, { workspace: other.root, prompt: PROMPT });
      expect(stable(second.events)).toEqual(stable(first.events));
    } finally {
      await other.dispose();
    }
  });

  it('adds a section to the existing page on a follow-up turn instead of starting over', async () => {
    const first = await runTurn(agent, { workspace: ws.root, prompt: PROMPT });
    // A change the person made by hand survives the follow-up.
    await writeFile(path.join(ws.root, 'styles.css'), `${await read('styles.css')}/* mine */\n`);
    const second = await runTurn(agent, {
      workspace: ws.root,
      prompt: 'Add a section with watering tips for summer',
      turnId: 'turn-2',
      checkpoint: first.checkpoint,
    });
    const html = await read('index.html');
    expect(html).toContain('<h2>Watering Tips Summer</h2>');
    expect(html).toContain('<title>Tomato Garden Journal Log Harvests</title>');
    expect(await read('styles.css')).toContain('/* mine */');
    expect(await read('dist/index.html')).toContain('Watering Tips Summer');
    const tools = second.state.toolCalls.map((c) => c.toolName);
    expect(tools).toContain('edit_file');
    expect(tools).not.toContain('write_file');
    expect(second.checkpoint).toMatchObject({
      turns: 2,
      sections: [{ heading: 'Watering Tips Summer' }],
    });
  });

  it('escapes the prompt in the page it writes', async () => {
    await runTurn(agent, {
      workspace: ws.root,
      prompt: 'A <script>alert(1)</script> "quoted" page',
    });
    const html = await read('index.html');
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  });

  /** Runs a turn of `held`, interrupting it once its opening message is done; its events. */
  async function interruptAfterOpening(held: DemoAgent, turn: Parameters<typeof runTurn>[1]) {
    const controller = new AbortController();
    const error = await runTurn(held, { ...turn, signal: controller.signal }, (event) => {
      // The opening message is done: the agent is now held; interrupt it on the next turn.
      if (event.type === 'message-finish') setImmediate(() => controller.abort());
    }).then(
      () => undefined,
      (thrown: { run?: { events: RunnerEventBody[] } }) => thrown,
    );
    return error?.run?.events ?? [];
  }

  it('with holdOnPrompt, waits after its opening message until the turn is interrupted, in first and follow-up turns whose prompt matches', async () => {
    const held = new DemoAgent({ chunkDelayMs: 0, holdOnPrompt: 'garden' });
    const first = await interruptAfterOpening(held, { workspace: ws.root, prompt: PROMPT });
    expect(first.at(-1)?.type).toBe('message-finish');
    expect(
      first.some((e) => e.type === 'tool-input-available' && e.toolName === 'write_file'),
    ).toBe(false);

    // A prompt without the text runs through; a follow-up with it holds again.
    const built = await runTurn(held, { workspace: ws.root, prompt: 'A page about owls' });
    expect(built.state.turns[0]?.status).toBe('completed');
    const followUp = await interruptAfterOpening(held, {
      workspace: ws.root,
      prompt: 'Add a garden section',
      turnId: 'turn-2',
      checkpoint: built.checkpoint,
    });
    expect(followUp.at(-1)?.type).toBe('message-finish');
    // Nothing past the opening message: the page is not read, edited or rebuilt.
    const fileTools = ['read_file', 'edit_file', 'write_file', 'run_command'];
    expect(
      followUp.some((e) => e.type === 'tool-input-available' && fileTools.includes(e.toolName)),
    ).toBe(false);
  });

  it('stops streaming within a second of an interrupt and emits no checkpoint', async () => {
    const slow = new DemoAgent({ chunkDelayMs: 5_000 });
    const controller = new AbortController();
    let aborting = false;
    let abortedAt = 0;
    const run = runTurn(
      slow,
      { workspace: ws.root, prompt: PROMPT, signal: controller.signal },
      (event) => {
        if (event.type === 'text-delta' && !aborting) {
          aborting = true;
          // After this emit returns, the agent is waiting out its 5 s chunk delay.
          setImmediate(() => {
            abortedAt = performance.now();
            controller.abort();
          });
        }
      },
    );
    const error = await run.then(
      () => undefined,
      (thrown: { run?: { events: RunnerEventBody[] } }) => thrown,
    );
    expect(performance.now() - abortedAt).toBeLessThan(1_000);
    const events = error?.run?.events ?? [];
    expect(events.filter((e) => e.type === 'text-delta')).toHaveLength(1);
    expect(events.some((e) => e.type === 'checkpoint' || e.type === 'message-finish')).toBe(false);
  });
});
