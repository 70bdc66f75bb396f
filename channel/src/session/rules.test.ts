import {
  applyEvents,
  createSessionState,
  type RunnerEventBody,
  type SessionEvent,
  TOOL_OUTPUT_LIMIT_BYTES,
} from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { planCatchUp } from '../catch-up';
import { admitFrame, checkEvents, dropLateTurnEnds } from './admission';
import { coalesceDeltas } from './coalesce';
import { finishOrphanedTurn, leaseActions } from './lifecycle';

const delta = (messageId: string, text: string): RunnerEventBody => ({
  type: 'text-delta',
  messageId,
  delta: text,
});
const started = (turnId: string): RunnerEventBody => ({
  type: 'turn-started',
  turnId,
  buildId: 'b',
  runnerId: 'r',
  agent: 'demo',
  model: 'm',
});
const finished = (turnId: string): RunnerEventBody => ({
  type: 'turn-finished',
  turnId,
  status: 'completed',
  durationMs: 1,
});

function stateOf(bodies: RunnerEventBody[]) {
  const events = bodies.map((b, i) => ({ ...b, seq: i + 1, at: 1000 + i }) as SessionEvent);
  return applyEvents(createSessionState('s', 'p'), events);
}

describe('admitFrame', () => {
  it('appends the new tail of a frame that overlaps what is acked, numbering from acked + 1', () => {
    expect(
      admitFrame(3, 2, [delta('m', 'a'), delta('m', 'b'), delta('m', 'c'), delta('m', 'd')]),
    ).toEqual({
      kind: 'append',
      events: [
        { body: delta('m', 'c'), producerSeq: 4 },
        { body: delta('m', 'd'), producerSeq: 5 },
      ],
    });
  });

  it('calls a frame entirely at or below the acked seq a duplicate, and one past acked + 1 a gap', () => {
    expect(admitFrame(5, 4, [delta('m', 'a'), delta('m', 'b')])).toEqual({
      kind: 'duplicate',
      ackedProducerSeq: 5,
    });
    expect(admitFrame(5, 7, [delta('m', 'a')])).toEqual({ kind: 'gap', expectedProducerSeq: 6 });
  });
});

describe('coalesceDeltas', () => {
  it('merges runs of the same message and kind only, keeping the last producer seq', () => {
    const produced = [
      delta('a', '1'),
      delta('a', '2'),
      { type: 'reasoning-delta', messageId: 'a', delta: 'r' } as RunnerEventBody,
      delta('a', '3'),
      delta('b', '4'),
    ].map((body, i) => ({ body, producerSeq: i + 1 }));
    expect(coalesceDeltas(produced)).toEqual([
      { body: delta('a', '12'), producerSeq: 2 },
      { body: { type: 'reasoning-delta', messageId: 'a', delta: 'r' }, producerSeq: 3 },
      { body: delta('a', '3'), producerSeq: 4 },
      { body: delta('b', '4'), producerSeq: 5 },
    ]);
  });
});

describe('checkEvents', () => {
  it('refuses an uncut tool output, an oversized event and a turn for another build', () => {
    expect(checkEvents([delta('m', 'ok')], 'b', 'runner:r')).toBeUndefined();
    const output = 'x'.repeat(TOOL_OUTPUT_LIMIT_BYTES + 1);
    expect(
      checkEvents(
        [
          {
            type: 'tool-output-available',
            toolCallId: 't',
            output,
            isError: false,
            truncated: true,
            durationMs: 0,
          },
        ],
        'b',
        'runner:r',
      )?.code,
    ).toBe('event-too-large');
    expect(checkEvents([delta('m', 'x'.repeat(300 * 1024))], 'b', 'runner:r')?.code).toBe(
      'event-too-large',
    );
    expect(checkEvents([started('t')], 'other', 'runner:r')?.code).toBe('bad-frame');
  });

  it("refuses a checkpoint from a person's build, and a resume id that a CLI could read as a flag", () => {
    const checkpoint = (state: unknown) => [
      { type: 'checkpoint' as const, turnId: 't', agent: 'claude-code', state },
    ];
    const good = { version: 1, resumeId: '4c1e6987-e89d-4589-bbaa-fed8e333e06c' };
    expect(checkEvents(checkpoint(good), 'b', 'runner:r')).toBeUndefined();
    expect(checkEvents(checkpoint(good), 'b', 'user:u')?.code).toBe('forbidden');
    for (const resumeId of ['--dangerously-skip-permissions', '-x', '', 'a b', 7]) {
      expect(checkEvents(checkpoint({ resumeId }), 'b', 'runner:r')?.code).toBe('bad-frame');
    }
  });
});

describe('dropLateTurnEnds', () => {
  it('keeps the end of a running turn or one started in the same batch, and drops any other', () => {
    const state = stateOf([started('t1'), finished('t1'), started('t2')]);
    const batch = [
      finished('t1'),
      finished('t2'),
      started('t3'),
      finished('t3'),
      finished('t3'),
    ].map((body) => ({ body }));
    expect(dropLateTurnEnds(state, batch).map((e) => e.body)).toEqual([
      finished('t2'),
      started('t3'),
      finished('t3'),
    ]);
  });
});

describe('planCatchUp', () => {
  it('chooses nothing, events, a snapshot past the replay limit, or ahead', () => {
    expect(planCatchUp(10, 10, 100)).toEqual({ kind: 'none' });
    expect(planCatchUp(0, 100, 100)).toEqual({ kind: 'events', after: 0 });
    expect(planCatchUp(0, 101, 100)).toEqual({ kind: 'snapshot' });
    expect(planCatchUp(11, 10, 100)).toEqual({ kind: 'ahead' });
  });
});

describe('leaseActions', () => {
  it('expires a silent lease, renews one kept alive by pings, and loses one past its grace', () => {
    const { actions, nextCheckAt } = leaseActions(
      [
        { buildId: 'silent', status: 'leased', leaseExpiresAt: 100 },
        { buildId: 'pinging', status: 'leased', leaseExpiresAt: 100, lastPingAt: 90 },
        { buildId: 'live', status: 'leased', leaseExpiresAt: 500 },
        { buildId: 'gone', status: 'expired', leaseExpiresAt: 150 },
        { buildId: 'waiting', status: 'expired', leaseExpiresAt: 400 },
        { buildId: 'done', status: 'lost', leaseExpiresAt: 0 },
      ],
      200,
      30,
      60,
    );
    expect(actions).toEqual([
      { kind: 'expire', buildId: 'silent', graceUntil: 260 },
      // Its last ping (90) + 30 is already past: silent too.
      { kind: 'expire', buildId: 'pinging', graceUntil: 260 },
      { kind: 'lose', buildId: 'gone' },
    ]);
    expect(nextCheckAt).toBe(260);
  });

  it('renews from a ping that is newer than the lease', () => {
    const { actions } = leaseActions(
      [{ buildId: 'b', status: 'leased', leaseExpiresAt: 100, lastPingAt: 190 }],
      200,
      30,
      60,
    );
    expect(actions).toEqual([{ kind: 'renew', buildId: 'b', leaseExpiresAt: 220 }]);
  });
});

describe('finishOrphanedTurn', () => {
  it('fails a lost runner turn, completes it when every todo is done, and finishes nothing twice', () => {
    const running = stateOf([started('t1')]);
    expect(finishOrphanedTurn(running, 'b', 'runner-lost', 5000)).toMatchObject({
      status: 'failed',
      error: 'runner-lost',
    });
    const allDone = stateOf([
      started('t1'),
      { type: 'todos-updated', todos: [{ content: 'a', activeForm: 'a', status: 'completed' }] },
    ]);
    expect(finishOrphanedTurn(allDone, 'b', 'runner-lost', 5000)).toMatchObject({
      status: 'completed',
    });
    expect(
      finishOrphanedTurn(stateOf([started('t1'), finished('t1')]), 'b', 'stuck', 5000),
    ).toBeUndefined();
  });
});
