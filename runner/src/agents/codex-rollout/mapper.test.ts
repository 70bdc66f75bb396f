import { runnerEventBody } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { ofType, readSample, reduceBodies } from '../fixtures';
import { mapRecording } from '../mapper';
import { CodexRolloutMapper } from './mapper';

/*
 * Expected numbers were read from the samples with jq, not from this mapper (see fixtures/README.md):
 *   jq -c '[.type,.payload.type,.payload.call_id,.payload.name]' F
 *   jq -c 'select(.payload.type=="token_count")|.payload.info.last_token_usage' F
 *   jq -r 'select(.payload.type=="function_call_output")|.payload.output' F
 * rollout-real-exec: one task (task_started … task_complete duration_ms 6074), model gpt-5.5, the
 *   answer "[REDACTED_ASSISTANT_TEXT]" both as event_msg agent_message and as a response_item,
 *   one token_count: 22539 in (20864 cached), 10 out.
 * rollout-vscode-tools: one prompt, model gpt-5-codex, calls call_1mb2zpo3ma4hy4OjTDz9oNpC (shell,
 *   output metadata.exit_code 0), call_YrnlmBYpqIGtJpsQ6VPTQWaj (shell, "… exit code: 2 …") and
 *   call_K7ZAjXren3Rd4NpZqJHpOCTO (update_plan, 3 pending steps, no output in the sample); two
 *   reasoning items (also repeated as agent_reasoning); token_count last usage 2895/2560/246/192
 *   and 3741/3072/78/0.
 */

const options = { buildId: 'build-1', producerId: 'runner-1' };

function map(name: string) {
  const lines = readSample(new URL(`./fixtures/${name}`, import.meta.url));
  return mapRecording(new CodexRolloutMapper(options), lines);
}

describe('the Codex rollout mapper on a real codex exec rollout', () => {
  const events = map('rollout-real-exec.jsonl');
  const TURN = '019e9625-802f-7e91-840a-cfe88d14117a:1';

  it('produces only events the protocol accepts', () => {
    for (const event of events) expect(runnerEventBody.safeParse(event).success).toBe(true);
  });

  it('maps the task to one completed turn with the model of its turn_context and its own duration', () => {
    expect(ofType(events, 'turn-started')).toEqual([
      {
        type: 'turn-started',
        turnId: TURN,
        buildId: 'build-1',
        runnerId: 'runner-1',
        agent: 'codex',
        model: 'gpt-5.5',
      },
    ]);
    expect(ofType(events, 'turn-finished')).toEqual([
      { type: 'turn-finished', turnId: TURN, status: 'completed', durationMs: 6074 },
    ]);
  });

  it('shows the answer once although the rollout holds it twice', () => {
    const state = reduceBodies(events);
    expect(state.messages.map((m) => m.text)).toEqual(['[REDACTED_ASSISTANT_TEXT]']);
  });

  it('counts the request’s tokens with the cached part apart', () => {
    expect(ofType(events, 'usage')).toEqual([
      {
        type: 'usage',
        inputTokens: 22539 - 20864,
        outputTokens: 10,
        cacheReadTokens: 20864,
        cacheWriteTokens: 0,
        reasoningTokens: 0,
        model: 'gpt-5.5',
      },
    ]);
  });
});

describe('the Codex rollout mapper on a VS Code rollout with tool calls', () => {
  const events = map('rollout-vscode-tools.jsonl');

  it('produces only events the protocol accepts', () => {
    for (const event of events) expect(runnerEventBody.safeParse(event).success).toBe(true);
  });

  it('keeps every call’s id and name, with its output and error flag', () => {
    const state = reduceBodies(events);
    expect(state.toolCalls.map((c) => [c.toolCallId, c.toolName, c.isError])).toEqual([
      ['call_1mb2zpo3ma4hy4OjTDz9oNpC', 'shell', false],
      ['call_YrnlmBYpqIGtJpsQ6VPTQWaj', 'shell', true],
      ['call_K7ZAjXren3Rd4NpZqJHpOCTO', 'update_plan', false],
    ]);
    const [first, second] = ofType(events, 'tool-output-available');
    expect(String(first?.output)).toMatch(
      /^apps\/spectora-labs\/src\/app\/\(protected\)\/dashboard/,
    );
    expect(String(second?.output)).toMatch(/^failed in sandbox MacosSeatbelt/);
    expect(ofType(events, 'tool-input-available')[0]?.input).toEqual({
      command: ['bash', '-lc', 'rg "TeamSheet"'],
      workdir: '/Users/jnarowski/Dev/spectora/src/spectora-labs-monorepo-v2',
    });
  });

  it('turns update_plan into the session’s todo list', () => {
    const state = reduceBodies(events);
    expect(state.todos.map((t) => t.status)).toEqual(['pending', 'pending', 'pending']);
    expect(state.todos[0]?.content).toBe(
      'Add backend support for fetching a single team with stats to avoid loading all teams during edits.',
    );
  });

  it('sends each reasoning summary once and one usage per request', () => {
    expect(ofType(events, 'reasoning-delta').map((e) => e.delta)).toEqual([
      '**Assessing environment and read-only constraints**',
      '**Inspecting TeamSheet file**',
    ]);
    expect(
      ofType(events, 'usage').map((u) => [
        u.inputTokens,
        u.cacheReadTokens,
        u.outputTokens,
        u.reasoningTokens,
      ]),
    ).toEqual([
      [2895 - 2560, 2560, 246, 192],
      [3741 - 3072, 3072, 78, 0],
    ]);
  });

  it('ends the cut-off turn as interrupted, since its last call has no output', () => {
    expect(ofType(events, 'turn-finished').map((e) => e.status)).toEqual(['interrupted']);
    expect(ofType(events, 'turn-started')[0]?.model).toBe('gpt-5-codex');
  });
});
