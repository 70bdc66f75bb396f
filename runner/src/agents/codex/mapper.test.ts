import { runnerEventBody } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { ofType, readFixture, reduceBodies } from '../fixtures';
import { mapRecording } from '../mapper';
import type { RecordedLine } from '../recording';
import { CodexMapper } from './mapper';

/*
 * Expected numbers were read from the fixtures with jq, not from this mapper:
 *   jq -c 'select(.item)|[.type,.item.type,.item.exit_code]' F | sort | uniq -c
 *   jq -c 'select(.usage)|.usage' F
 * codex-exec-command: reasoning, command_execution (started + completed, exit 0), reasoning,
 * agent_message; usage 6086 in (2944 cached), 223 out. codex-exec-file-change: reasoning,
 * file_change, agent_message; usage 6008 in (4096 cached), 51 out.
 */

const options = { buildId: 'build-1', producerId: 'runner-1', model: 'gpt-5-codex' };

function map(recorded: RecordedLine[]) {
  return mapRecording(new CodexMapper(options), recorded);
}

function lines(values: unknown[]): RecordedLine[] {
  return values.map((value, i) => ({ lineNumber: i + 1, value }));
}

describe('the Codex mapper on codex-exec-command.jsonl', () => {
  const events = map(readFixture('codex-exec-command.jsonl'));
  const TURN = '019a2d7b-7fb8-78e1-8cfa-5bdbe274a3aa:1';

  it('produces only events the protocol accepts', () => {
    for (const event of events) expect(runnerEventBody.safeParse(event).success).toBe(true);
  });

  it('maps the thread’s turn to one completed turn', () => {
    expect(ofType(events, 'turn-started')).toEqual([
      {
        type: 'turn-started',
        turnId: TURN,
        buildId: 'build-1',
        runnerId: 'runner-1',
        agent: 'codex',
        model: 'gpt-5-codex',
      },
    ]);
    expect(ofType(events, 'turn-finished').map((e) => e.status)).toEqual(['completed']);
  });

  it('maps the command to one tool call with its output and no error', () => {
    expect(ofType(events, 'tool-input-available')).toEqual([
      {
        type: 'tool-input-available',
        toolCallId: `${TURN}:item_1`,
        toolName: 'command_execution',
        input: { command: 'zsh -lc ls' },
      },
    ]);
    const outputs = ofType(events, 'tool-output-available');
    expect(outputs).toHaveLength(1);
    expect(outputs[0]?.isError).toBe(false);
    expect(outputs[0]?.output).toContain('stream-output-5.jsonl');
  });

  it('writes reasoning before the command and reasoning plus the answer after it as two messages', () => {
    const state = reduceBodies(events);
    expect(state.messages.map((m) => [m.reasoning, m.text.slice(0, 12), m.status])).toEqual([
      ['**Listing files in directory**', '', 'done'],
      ['**Preparing summary with caution**', 'Found 1 text', 'done'],
    ]);
    expect(ofType(events, 'message-start')).toHaveLength(2);
    expect(ofType(events, 'message-finish')).toHaveLength(2);
  });

  it('reports usage once, with cached tokens apart from the uncached input', () => {
    expect(ofType(events, 'usage')).toEqual([
      {
        type: 'usage',
        inputTokens: 6086 - 2944,
        outputTokens: 223,
        cacheReadTokens: 2944,
        cacheWriteTokens: 0,
        reasoningTokens: 0,
        model: 'gpt-5-codex',
      },
    ]);
    expect(ofType(events, 'todos-updated')).toHaveLength(0);
  });
});

describe('the Codex mapper on codex-exec-file-change.jsonl', () => {
  const events = map(readFixture('codex-exec-file-change.jsonl'));

  it('produces only events the protocol accepts', () => {
    for (const event of events) expect(runnerEventBody.safeParse(event).success).toBe(true);
  });

  it('maps the file change to one tool call carrying the changes', () => {
    const inputs = ofType(events, 'tool-input-available');
    expect(inputs.map((e) => [e.toolName, e.input])).toEqual([
      [
        'file_change',
        { changes: [{ path: '/private/tmp/codex-research-test/hello.txt', kind: 'add' }] },
      ],
    ]);
    const outputs = ofType(events, 'tool-output-available');
    expect(outputs.map((e) => [e.output, e.isError])).toEqual([
      ['add /private/tmp/codex-research-test/hello.txt', false],
    ]);
  });

  it('maps one completed turn, two messages and one usage event', () => {
    const state = reduceBodies(events);
    expect(state.turns.map((t) => t.status)).toEqual(['completed']);
    expect(state.messages.map((m) => m.text)).toEqual([
      '',
      'Created `hello.txt` containing `Hello from Codex`.',
    ]);
    expect(state.usage).toMatchObject({
      inputTokens: 1912,
      cacheReadTokens: 4096,
      outputTokens: 51,
    });
    expect(state.toolCalls.map((t) => t.status)).toEqual(['done']);
  });
});

describe('the Codex mapper on hand-built streams', () => {
  it('maps todo lists, a failed command and a growing agent message', () => {
    const events = map(
      lines([
        { type: 'thread.started', thread_id: 't' },
        { type: 'turn.started' },
        {
          type: 'item.started',
          item: {
            id: 'i0',
            type: 'todo_list',
            items: [
              { text: 'a', completed: false },
              { text: 'b', completed: false },
            ],
          },
        },
        {
          type: 'item.started',
          item: {
            id: 'i1',
            type: 'command_execution',
            command: 'false',
            aggregated_output: '',
            status: 'in_progress',
          },
        },
        {
          type: 'item.completed',
          item: {
            id: 'i1',
            type: 'command_execution',
            command: 'false',
            aggregated_output: 'nope',
            exit_code: 1,
            status: 'failed',
          },
        },
        {
          type: 'item.updated',
          item: {
            id: 'i0',
            type: 'todo_list',
            items: [
              { text: 'a', completed: true },
              { text: 'b', completed: false },
            ],
          },
        },
        { type: 'item.updated', item: { id: 'i2', type: 'agent_message', text: 'Hel' } },
        { type: 'item.completed', item: { id: 'i2', type: 'agent_message', text: 'Hello' } },
        {
          type: 'turn.completed',
          usage: { input_tokens: 3, cached_input_tokens: 0, output_tokens: 2 },
        },
      ]),
    );
    const todos = ofType(events, 'todos-updated');
    expect(todos.map((e) => e.todos.map((t) => t.status))).toEqual([
      ['in_progress', 'pending'],
      ['completed', 'in_progress'],
    ]);
    expect(todos[0]?.todos[0]).toEqual({ content: 'a', activeForm: 'a', status: 'in_progress' });
    const state = reduceBodies(events);
    expect(state.toolCalls.map((t) => [t.output, t.isError])).toEqual([['nope', true]]);
    expect(state.messages.map((m) => m.text)).toEqual(['Hello']);
    expect(state.turns.map((t) => t.status)).toEqual(['completed']);
  });

  it('fails a turn on turn.failed and interrupts one the recording cuts off', () => {
    const events = map(
      lines([
        { type: 'thread.started', thread_id: 't' },
        { type: 'turn.started' },
        { type: 'error', message: 'stream disconnected' },
        { type: 'turn.failed', error: { message: 'model unavailable' } },
        { type: 'turn.started' },
        { type: 'item.completed', item: { id: 'i0', type: 'reasoning', text: 'hmm' } },
      ]),
    );
    expect(ofType(events, 'turn-finished').map((e) => [e.turnId, e.status, e.error])).toEqual([
      ['t:1', 'failed', 'model unavailable'],
      ['t:2', 'interrupted', 'the recording ended before the turn’s end'],
    ]);
    expect(ofType(events, 'message-finish')).toHaveLength(1);
  });
});
