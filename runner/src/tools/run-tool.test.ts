import { type RunnerEventBody, runnerEventBody, TOOL_OUTPUT_LIMIT_BYTES } from '@kiln/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kilnTools } from './index';
import { runTool } from './run-tool';
import { createTestWorkspace, type TestWorkspace } from './test-workspace';

let ws: TestWorkspace;
let events: RunnerEventBody[];
beforeEach(async () => {
  ws = await createTestWorkspace();
  events = [];
});
afterEach(async () => {
  await ws.dispose();
});
const ctx = () => ({
  workspace: ws.root,
  signal: new AbortController().signal,
  emit: (event: RunnerEventBody) => {
    // Every emitted event must pass the protocol's own schema.
    events.push(runnerEventBody.parse(event));
  },
});

describe('runTool', () => {
  it('emits the input, then the output with a measured duration', async () => {
    const result = await runTool(
      kilnTools.run_command,
      { command: 'node', args: ['-e', 'setTimeout(() => console.log("ok"), 50)'] },
      'call-1',
      ctx(),
    );
    expect(result.ok).toBe(true);
    expect(events).toHaveLength(2);
    expect(events[0]).toEqual({
      type: 'tool-input-available',
      toolCallId: 'call-1',
      toolName: 'run_command',
      input: { command: 'node', args: ['-e', 'setTimeout(() => console.log("ok"), 50)'] },
    });
    const output = events[1];
    if (output?.type !== 'tool-output-available') throw new Error('no output event');
    expect(output).toMatchObject({ toolCallId: 'call-1', isError: false, truncated: false });
    expect(output.output).toMatchObject({ exitCode: 0, stdout: 'ok\n' });
    expect(output.durationMs).toBeGreaterThanOrEqual(50);
  });

  it('emits a failed tool call as an error output with the error message', async () => {
    const result = await runTool(
      kilnTools.edit_file,
      { path: 'hello.txt', oldString: 'bye', newString: 'x' },
      'call-2',
      ctx(),
    );
    expect(result).toMatchObject({ ok: false, error: { code: 'no-match' } });
    expect(events[1]).toMatchObject({
      type: 'tool-output-available',
      isError: true,
      output: expect.stringMatching(/0 matches/),
    });
  });

  it('refuses input that fails the tool schema without running the tool', async () => {
    const result = await runTool(kilnTools.write_file, { path: 'x.txt' }, 'call-3', ctx());
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(events[1]).toMatchObject({ isError: true, output: expect.stringMatching(/content/) });
  });

  it('marks a non-zero exit as an error while keeping the command output', async () => {
    const result = await runTool(
      kilnTools.run_command,
      { command: 'node', args: ['-e', 'console.error("boom"); process.exit(2)'] },
      'call-4',
      ctx(),
    );
    expect(result).toMatchObject({ ok: true, isError: true });
    expect(events[1]).toMatchObject({ isError: true, output: { exitCode: 2, stderr: 'boom\n' } });
  });

  it('caps an output over 32 KiB of JSON and marks it truncated', async () => {
    await runTool(
      kilnTools.write_file,
      { path: 'big.txt', content: '"'.repeat(60_000) },
      'w',
      ctx(),
    );
    const result = await runTool(kilnTools.read_file, { path: 'big.txt' }, 'call-5', ctx());
    expect(result).toMatchObject({ ok: true, truncated: true });
    const output = events.at(-1);
    if (output?.type !== 'tool-output-available') throw new Error('no output event');
    expect(output.truncated).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(output.output))).toBeLessThanOrEqual(
      TOOL_OUTPUT_LIMIT_BYTES,
    );
  });

  it('turns a todo_write call into a todos-updated event after its output', async () => {
    const todos = [
      { content: 'Write the page', activeForm: 'Writing the page', status: 'in_progress' },
      { content: 'Build it', activeForm: 'Building it', status: 'pending' },
    ];
    await runTool(kilnTools.todo_write, { todos }, 'call-6', ctx());
    expect(events.map((e) => e.type)).toEqual([
      'tool-input-available',
      'tool-output-available',
      'todos-updated',
    ]);
    expect(events[2]).toEqual({ type: 'todos-updated', todos });
  });
});
