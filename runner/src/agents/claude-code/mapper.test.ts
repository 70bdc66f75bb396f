import { runnerEventBody } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { ofType, readFixture, reduceBodies } from '../fixtures';
import { mapRecording } from '../mapper';
import { ClaudeCodeMapper } from './mapper';

/*
 * Expected numbers were read from the fixtures with jq, not from this mapper, e.g.
 *   jq -c 'select(.type=="assistant")|.message.content[]|select(.type=="tool_use")|.id' F | wc -l
 *   jq -c 'select(.type=="user")|.message.content[]|select(.type=="tool_result" and .is_error==true)' F | wc -l
 *   jq -r 'select(.type=="assistant")|.message.id' F | sort -u | wc -l
 *   jq -s '[.[]|select(.type=="assistant")]|group_by(.message.id)|map(last.message.usage)
 *          |{in:(map(.input_tokens)|add), out:(map(.output_tokens)|add), …}' F
 * and agree with shared/fixtures/recorded/README.md.
 */

const options = { buildId: 'build-1', producerId: 'runner-1' };

function mapFixture(name: string) {
  return mapRecording(new ClaudeCodeMapper(options), readFixture(name));
}

describe('the Claude Code mapper on claude-code-stream-json.jsonl', () => {
  const events = mapFixture('claude-code-stream-json.jsonl');
  const SESSION = '4c1e6987-e89d-4589-bbaa-fed8e333e06c';
  const TASK_ID = 'toolu_01GNVchGfCUDa6wEXjNxeWY9';

  it('produces only events the protocol accepts', () => {
    for (const event of events) expect(runnerEventBody.safeParse(event).success).toBe(true);
  });

  it('opens one turn from system/init and interrupts it because the run has no result line', () => {
    expect(ofType(events, 'turn-started')).toEqual([
      {
        type: 'turn-started',
        turnId: `${SESSION}:1`,
        buildId: 'build-1',
        runnerId: 'runner-1',
        agent: 'claude-code',
        model: 'claude-sonnet-4-5-20250929',
      },
    ]);
    const finished = ofType(events, 'turn-finished');
    expect(finished.map((e) => e.status)).toEqual(['interrupted']);
    expect(events.at(-1)?.type).toBe('turn-finished');
  });

  it('maps 79 tool calls, 79 outputs and 11 errors', () => {
    const inputs = ofType(events, 'tool-input-available');
    const outputs = ofType(events, 'tool-output-available');
    expect(inputs).toHaveLength(79);
    expect(new Set(inputs.map((e) => e.toolCallId)).size).toBe(79);
    expect(outputs).toHaveLength(79);
    expect(outputs.filter((e) => e.isError)).toHaveLength(11);
  });

  it('gives the 19 subagent calls their Task call as parent and the rest none', () => {
    const inputs = ofType(events, 'tool-input-available');
    const children = inputs.filter((e) => e.parentToolCallId !== undefined);
    expect(children).toHaveLength(19);
    expect(new Set(children.map((e) => e.parentToolCallId))).toEqual(new Set([TASK_ID]));
  });

  it('emits todos-updated for each of the 8 main-agent TodoWrite calls, ending with 9 items', () => {
    const todos = ofType(events, 'todos-updated');
    expect(todos).toHaveLength(8);
    expect(todos.at(-1)?.todos.map((t) => t.status)).toEqual([
      'completed',
      'completed',
      'completed',
      'completed',
      'completed',
      'completed',
      'in_progress',
      'completed',
      'pending',
    ]);
  });

  it('starts and finishes each of the 68 message ids once, with one usage event each', () => {
    const starts = ofType(events, 'message-start').map((e) => e.messageId);
    const finishes = ofType(events, 'message-finish').map((e) => e.messageId);
    const usage = ofType(events, 'usage');
    expect(starts).toHaveLength(68);
    expect(new Set(starts).size).toBe(68);
    expect(new Set(finishes)).toEqual(new Set(starts));
    expect(finishes).toHaveLength(68);
    expect(usage).toHaveLength(68);
    expect(new Set(usage.map((e) => e.messageId))).toEqual(new Set(starts));
  });

  it('counts each message’s last usage once (750 in, 2062 out, 4138843 cache read, 139527 cache write)', () => {
    const state = reduceBodies(events);
    expect(state.usage).toEqual({
      inputTokens: 750,
      outputTokens: 2062,
      cacheReadTokens: 4_138_843,
      cacheWriteTokens: 139_527,
      reasoningTokens: 0,
      costUsd: 0,
    });
    expect(Object.keys(state.usageByModel).sort()).toEqual([
      'claude-haiku-4-5-20251001',
      'claude-sonnet-4-5-20250929',
    ]);
  });

  it('reduces to 79 finished tool calls, 9 todos, parented subagent calls and an interrupted turn', () => {
    const state = reduceBodies(events);
    expect(state.toolCalls).toHaveLength(79);
    expect(state.toolCalls.every((t) => t.status === 'done' && t.output !== undefined)).toBe(true);
    expect(state.toolCalls.filter((t) => t.isError)).toHaveLength(11);
    expect(state.toolCalls.filter((t) => t.parentToolCallId === TASK_ID)).toHaveLength(19);
    expect(state.todos).toHaveLength(9);
    expect(state.turns.map((t) => t.status)).toEqual(['interrupted']);
    expect(state.status).toBe('interrupted');
    expect(state.messages).toHaveLength(68);
    expect(state.messages.every((m) => m.status === 'done')).toBe(true);
    // 7922 code points of text blocks (jq: [..|select(.type=="text")|.text|length]|add).
    const text = state.messages.map((m) => m.text).join('');
    expect([...text].length).toBe(7922);
  });

  it('keeps string and array tool outputs as given', () => {
    const outputs = ofType(events, 'tool-output-available');
    expect(outputs.filter((e) => Array.isArray(e.output))).toHaveLength(1);
    expect(outputs.filter((e) => typeof e.output === 'string')).toHaveLength(78);
    expect(outputs.every((e) => e.durationMs === 0)).toBe(true);
  });
});

describe('the Claude Code mapper on claude-code-transcript.jsonl', () => {
  const events = mapFixture('claude-code-transcript.jsonl');

  it('produces only events the protocol accepts', () => {
    for (const event of events) expect(runnerEventBody.safeParse(event).success).toBe(true);
  });

  it('opens a turn per prompt and interrupts the two the person stopped', () => {
    const started = ofType(events, 'turn-started');
    expect(started.map((e) => e.turnId)).toEqual([
      '8a2518dd-ff41-4d5f-83a1-407b03598cc6:1',
      '8a2518dd-ff41-4d5f-83a1-407b03598cc6:2',
      '8a2518dd-ff41-4d5f-83a1-407b03598cc6:3',
      '8a2518dd-ff41-4d5f-83a1-407b03598cc6:4',
    ]);
    expect(ofType(events, 'turn-finished').map((e) => e.status)).toEqual([
      'interrupted',
      'interrupted',
      'completed',
      'completed',
    ]);
  });

  it('measures turn durations from the prompt to the turn’s last line', () => {
    // Turn 4: prompt at 21:29:05.811, last line at 21:29:14.372.
    expect(ofType(events, 'turn-finished').at(-1)?.durationMs).toBe(8561);
  });

  it('maps 10 tool calls with 10 outputs, 1 of them an error, and 2 todo lists of 2 items', () => {
    expect(ofType(events, 'tool-input-available')).toHaveLength(10);
    const outputs = ofType(events, 'tool-output-available');
    expect(outputs).toHaveLength(10);
    expect(outputs.filter((e) => e.isError)).toHaveLength(1);
    const todos = ofType(events, 'todos-updated');
    expect(todos).toHaveLength(2);
    expect(todos.at(-1)?.todos.map((t) => t.status)).toEqual(['completed', 'completed']);
  });

  it('measures tool durations from the lines’ timestamps', () => {
    // The first Read: tool_use at 20:54:43.753, its result at 20:54:44.801.
    expect(ofType(events, 'tool-output-available')[0]?.durationMs).toBe(1048);
  });

  it('maps 11 messages with one usage event each', () => {
    expect(ofType(events, 'message-start')).toHaveLength(11);
    expect(ofType(events, 'message-finish')).toHaveLength(11);
    expect(ofType(events, 'usage')).toHaveLength(11);
    const state = reduceBodies(events);
    expect(state.usage).toMatchObject({
      inputTokens: 45,
      outputTokens: 107,
      cacheReadTokens: 307_871,
      cacheWriteTokens: 63_095,
    });
    expect([...state.messages.map((m) => m.text).join('')].length).toBe(1465);
    expect(state.toolCalls.filter((t) => t.status === 'done')).toHaveLength(10);
    expect(state.todos).toHaveLength(2);
  });
});
