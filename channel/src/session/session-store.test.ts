import { applyEvents, createSessionState, type EventBody, type SessionEvent } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { nodeSqlite } from '../testing/node-sqlite';
import { MemorySessionStore } from './memory-store';
import type { BuildRow, SessionStore } from './session-store';
import { SqliteSessionStore } from './sqlite-store';

const message = (text: string): EventBody => ({
  type: 'user-message',
  messageId: `msg_${text}`,
  clientMessageId: text,
  text,
  authorId: 'user:u',
});
const build = (over: Partial<BuildRow> = {}): BuildRow => ({
  buildId: 'b1',
  holder: 'runner:r',
  agent: 'demo',
  model: 'm',
  epoch: -1,
  ackedProducerSeq: 0,
  leaseExpiresAt: 100,
  status: 'leased',
  ...over,
});

const backends: [string, () => SessionStore][] = [
  ['memory', () => new MemorySessionStore()],
  [
    'sqlite',
    () => {
      const { sql, transactionSync } = nodeSqlite();
      const store = new SqliteSessionStore(sql, transactionSync);
      store.migrate();
      return store;
    },
  ],
];

describe.each(backends)('the %s session store', (_, open) => {
  it('appends in order and reads any seq range back, validated, with its envelope', () => {
    const store = open();
    expect(store.log.head()).toBe(0);
    const appended = store.transaction(() =>
      store.log.append(
        ['a', 'b', 'c'].map((t) => ({ body: message(t), at: 10 })),
        1,
      ),
    );
    expect(appended.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(store.log.head()).toBe(3);
    expect(store.log.read(1, 10).map((e) => [e.seq, e.type === 'user-message' && e.text])).toEqual([
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(store.log.read(0, 2).map((e) => e.seq)).toEqual([1, 2]);
    expect(store.log.read(3, 10)).toEqual([]);
    expect(store.log.read(0, 1)[0]).toEqual({ ...message('a'), seq: 1, at: 10 });
  });

  it('finds the newest event of a type', () => {
    const store = open();
    const checkpoint = (n: number): EventBody => ({
      type: 'checkpoint',
      turnId: `t${n}`,
      agent: 'demo',
      state: { n },
    });
    store.transaction(() =>
      store.log.append(
        [checkpoint(1), message('x'), checkpoint(2), message('y')].map((body) => ({ body, at: 1 })),
        1,
      ),
    );
    expect(store.log.lastOfType('checkpoint')).toMatchObject({ seq: 3, turnId: 't2' });
    expect(store.log.lastOfType('turn-started')).toBeUndefined();
  });

  it('keeps the two newest snapshots and says the seq each is at', () => {
    const store = open();
    expect(store.log.snapshot()).toBeUndefined();
    expect(store.log.snapshotSeq()).toBe(0);
    let state = createSessionState('s', 'p');
    for (let seq = 1; seq <= 3; seq++) {
      const events: SessionEvent[] = [{ ...message(`m${seq}`), seq, at: seq }];
      state = applyEvents(state, events);
      store.log.putSnapshot(seq, state);
    }
    expect(store.log.snapshotSeq()).toBe(3);
    expect(store.log.snapshot()).toEqual({ seq: 3, state });
  });

  it('a transaction that throws leaves nothing of it: no events, builds, meta or timers', () => {
    const store = open();
    store.putBuild(build());
    expect(() =>
      store.transaction(() => {
        store.log.append([{ body: message('lost'), at: 1 }], 1);
        store.putBuild(build({ ackedProducerSeq: 5 }));
        store.setMeta('interruptTurnId', 't');
        store.setTimer('lease', 7);
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    expect(store.log.head()).toBe(0);
    expect(store.log.read(0, 10)).toEqual([]);
    expect(store.getBuild('b1')?.ackedProducerSeq).toBe(0);
    expect(store.getMeta('interruptTurnId')).toBeUndefined();
    expect(store.nextTimerAt()).toBeUndefined();
    // And the log goes on from where it was.
    store.transaction(() => store.log.append([{ body: message('kept'), at: 2 }], 1));
    expect(store.log.head()).toBe(1);
  });

  it('stores builds, lists only the open ones, and overwrites on put', () => {
    const store = open();
    store.putBuild(build());
    store.putBuild(build({ buildId: 'b2', status: 'expired' }));
    store.putBuild(build({ buildId: 'b3', status: 'lost' }));
    store.putBuild(build({ epoch: 4, ackedProducerSeq: 9 }));
    expect(store.getBuild('b1')).toEqual(build({ epoch: 4, ackedProducerSeq: 9 }));
    expect(store.getBuild('nope')).toBeUndefined();
    expect(
      store
        .openBuilds()
        .map((b) => b.buildId)
        .sort(),
    ).toEqual(['b1', 'b2']);
  });

  it('keeps meta entries and timers, and hands out only the due timers, once', () => {
    const store = open();
    store.setMeta('sessionId', 's');
    store.setMeta('sessionId', 's2');
    expect(store.getMeta('sessionId')).toBe('s2');
    store.deleteMeta('sessionId');
    expect(store.getMeta('sessionId')).toBeUndefined();
    store.setTimer('lease', 50);
    store.setTimer('interrupt', 20);
    store.setTimer('write-through', 90);
    expect(store.timerDueAt('lease')).toBe(50);
    expect(store.nextTimerAt()).toBe(20);
    expect(store.takeDueTimers(50).sort()).toEqual(['interrupt', 'lease']);
    expect(store.takeDueTimers(50)).toEqual([]);
    expect(store.nextTimerAt()).toBe(90);
  });
});
