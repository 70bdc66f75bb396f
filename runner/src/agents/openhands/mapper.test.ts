import { runnerEventBody } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { ofType, readSample, reduceBodies } from '../fixtures';
import { mapRecording } from '../mapper';
import { OpenHandsMapper } from './mapper';

/*
 * Expected numbers were read from the samples with jq, not from this mapper (see fixtures/README.md):
 *   jq -c '.[]|[.id,.source,.action,.observation,.cause,.tool_call_metadata.tool_call_id]' F
 *   jq -c '.[]|.tool_call_metadata.model_response.usage|select(.)' F
 * basic_interactions: three user messages (ids 0, 6, 12), two agent messages (3, 9) and a finish
 *   (15, call_IpyczPgEAwtpRWFZ2RNokTdH, gpt-4o: 2473 prompt of which 2304 cached, 10 completion).
 * basic-trimmed: one user message, an edit (3, toolu_017nBp7UfiGqyrA7j77HgtFP, str_replace_editor)
 *   observed by 4 (cause 3) 37 ms later, a finish (5, toolu_01BUKu3B7nY574atNECkBiFk); usage
 *   3486 prompt / 3482 cache write / 1135 out, then 4646 / 3482 read / 1158 write / 177 out.
 */

const options = { buildId: 'build-1', producerId: 'runner-1', turnIdPrefix: 'oh' };

function map(name: string) {
  const lines = readSample(new URL(`./fixtures/${name}`, import.meta.url));
  return mapRecording(new OpenHandsMapper(options), lines);
}

describe('the OpenHands mapper on basic_interactions.json', () => {
  const events = map('basic_interactions.json');

  it('produces only events the protocol accepts', () => {
    for (const event of events) expect(runnerEventBody.safeParse(event).success).toBe(true);
  });

  it('makes one completed turn per user message, timed from the message', () => {
    const finished = ofType(events, 'turn-finished');
    expect(finished.map((e) => [e.turnId, e.status])).toEqual([
      ['oh:1', 'completed'],
      ['oh:2', 'completed'],
      ['oh:3', 'completed'],
    ]);
    // 00:14:10.787622 → 00:14:12.686046 (the next prompt ends it: the last event of the turn)
    expect(finished[0]?.durationMs).toBe(1899);
  });

  it('shows the agent’s messages once each and the finish call answered', () => {
    const state = reduceBodies(events);
    expect(state.messages.map((m) => m.text)).toEqual([
      '1 + 1 equals 2.',
      expect.stringMatching(/^Goldbach's conjecture is an unsolved problem/),
    ]);
    expect(state.toolCalls.map((c) => [c.toolCallId, c.toolName, c.status])).toEqual([
      ['call_IpyczPgEAwtpRWFZ2RNokTdH', 'finish', 'done'],
    ]);
    expect(ofType(events, 'usage')).toEqual([
      {
        type: 'usage',
        inputTokens: 2473 - 2304,
        outputTokens: 10,
        cacheReadTokens: 2304,
        cacheWriteTokens: 0,
        reasoningTokens: 0,
        model: 'gpt-4o-2024-08-06',
      },
    ]);
  });
});

describe('the OpenHands mapper on a trimmed basic.json', () => {
  const events = map('basic-trimmed.json');

  it('links the observation to its action by cause, with the real duration', () => {
    const outputs = ofType(events, 'tool-output-available');
    expect(outputs[0]).toMatchObject({
      toolCallId: 'toolu_017nBp7UfiGqyrA7j77HgtFP',
      isError: false,
      durationMs: 37, // 22:45:13.764487 → 22:45:13.801384
    });
    const inputs = ofType(events, 'tool-input-available');
    expect(inputs.map((e) => e.toolName)).toEqual(['str_replace_editor', 'finish']);
    expect(inputs[0]?.input).toMatchObject({ command: 'create', path: '/workspace/game_2048.py' });
  });

  it('shows each model response’s text once and counts its usage once', () => {
    const state = reduceBodies(events);
    expect(state.messages.map((m) => m.text.slice(0, 30))).toEqual([
      "I'll help you create a simple ",
      "I've created a simple implemen",
    ]);
    expect(
      ofType(events, 'usage').map((u) => [
        u.inputTokens,
        u.cacheReadTokens,
        u.cacheWriteTokens,
        u.outputTokens,
      ]),
    ).toEqual([
      [3486 - 3482, 0, 3482, 1135],
      [4646 - 3482 - 1158, 3482, 1158, 177],
    ]);
    expect(state.turns.map((t) => t.status)).toEqual(['completed']);
  });
});
