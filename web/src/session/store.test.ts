import type { ClientFrame, EventBody, SessionServerFrame } from '@kiln/protocol';
import { PING_FRAME } from '@kiln/protocol';
import { committed, stateFrom } from '@kiln/protocol/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SessionSocket } from './socket';
import { SessionStore } from './store';

/** A socket the test drives by hand: it records what the store sends. */
class FakeSocket implements SessionSocket {
  sent: string[] = [];
  closed = false;
  reconnects = 0;
  private listeners: Record<string, ((event: { data: unknown }) => void)[]> = {};

  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.closed = true;
  }
  reconnect(): void {
    this.reconnects++;
  }
  addEventListener(type: string, listener: (event: { data: unknown }) => void): void {
    this.listeners[type] = [...(this.listeners[type] ?? []), listener];
  }

  open(): void {
    for (const l of this.listeners.open ?? []) l({ data: undefined });
  }
  drop(): void {
    for (const l of this.listeners.close ?? []) l({ data: undefined });
  }
  receive(frame: SessionServerFrame | string): void {
    const data = typeof frame === 'string' ? frame : JSON.stringify(frame);
    for (const l of this.listeners.message ?? []) l({ data });
  }
  /** Frames sent so far, parsed, pings left out. */
  frames(): ClientFrame[] {
    return this.sent.filter((s) => s !== PING_FRAME).map((s) => JSON.parse(s) as ClientFrame);
  }
}

const ready = (headSeq: number): SessionServerFrame => ({
  type: 'ready',
  sessionId: 's1',
  headSeq,
  protocolVersion: 1,
  viewerId: 'v1',
});

const bodies: EventBody[] = [
  { type: 'user-message', messageId: 'u1', clientMessageId: 'c1', text: 'Hi', authorId: 'me' },
  { type: 'message-start', messageId: 'a1', role: 'assistant' },
  { type: 'text-delta', messageId: 'a1', delta: 'Hel' },
  { type: 'text-delta', messageId: 'a1', delta: 'lo' },
  { type: 'text-delta', messageId: 'a1', delta: ' there' },
];
const events = committed(bodies);

function setup() {
  const socket = new FakeSocket();
  const store = new SessionStore({
    sessionId: 's1',
    createSocket: () => socket,
    url: () => 'ws://x',
  });
  store.connect();
  return { socket, store };
}

let stores: SessionStore[] = [];
afterEach(() => {
  for (const s of stores) s.dispose();
  stores = [];
});

function live() {
  const t = setup();
  stores.push(t.store);
  t.socket.open();
  t.socket.receive(ready(0));
  return t;
}

describe('SessionStore', () => {
  it('sends nothing before ready, then hello with its head seq, and goes live', () => {
    const { socket, store } = setup();
    stores.push(store);
    socket.open();
    store.send('c9', 'queued prompt');
    expect(socket.sent).toEqual([]);
    expect(store.getSnapshot().connection).toBe('connecting');
    socket.receive(ready(0));
    expect(socket.frames()).toEqual([
      { type: 'hello', lastSeq: 0 },
      { type: 'send', clientMessageId: 'c9', text: 'queued prompt' },
    ]);
    expect(store.getSnapshot().connection).toBe('live');
  });

  it('a subscriber that reconnects at seq 3 says hello with lastSeq 3 and ends with each event once', () => {
    const { socket, store } = live();
    socket.receive({ type: 'events', events: events.slice(0, 3) });
    socket.drop();
    expect(store.getSnapshot().connection).toBe('reconnecting');
    socket.open();
    socket.receive(ready(5));
    expect(socket.frames().at(-1)).toEqual({ type: 'hello', lastSeq: 3 });
    // The server may resend an event the client has; it must not be applied twice.
    socket.receive({ type: 'events', events: events.slice(2) });
    const state = store.getSnapshot().state;
    expect(state.headSeq).toBe(5);
    expect(state.messages.find((m) => m.messageId === 'a1')?.text).toBe('Hello there');
    expect(store.getSnapshot().connection).toBe('live');
  });

  it('shows who watches from a presence view and the diffs that follow it', () => {
    const { socket, store } = live();
    const v = (id: string) => ({ viewerId: id, displayName: `Person ${id}`, since: 1 });
    socket.receive({ type: 'presence', viewers: [v('v1'), v('v2')], count: 2 });
    socket.receive({ type: 'presence-diff', joined: [v('v3')], left: ['v2'], count: 2 });
    socket.receive({ type: 'presence-diff', joined: [], left: [], count: 80 });
    const { presence } = store.getSnapshot();
    expect(presence.viewers.map((x) => x.viewerId)).toEqual(['v1', 'v3']);
    expect(presence.count).toBe(80);
  });

  it('applies a batch delivered twice only once', () => {
    const { socket, store } = live();
    socket.receive({ type: 'events', events });
    socket.receive({ type: 'events', events });
    expect(store.getSnapshot().state.messages.map((m) => m.text)).toEqual(['Hi', 'Hello there']);
  });

  it('replaces its state with a snapshot', () => {
    const { socket, store } = live();
    socket.receive({ type: 'events', events: events.slice(0, 2) });
    const snapshotState = stateFrom([
      ...bodies,
      { type: 'session-renamed', title: 'From the snapshot' },
    ]);
    socket.receive({ type: 'snapshot', seq: snapshotState.headSeq, state: snapshotState });
    const state = store.getSnapshot().state;
    expect(state.headSeq).toBe(6);
    expect(state.title).toBe('From the snapshot');
    // Live events continue from the snapshot's head.
    socket.receive({
      type: 'events',
      events: committed([{ type: 'text-delta', messageId: 'a1', delta: '!' }], 7),
    });
    expect(store.getSnapshot().state.messages[1]?.text).toBe('Hello there!');
  });

  it('keeps what precedes a gap and sends hello again from there, once per head', () => {
    const { socket, store } = live();
    socket.receive({ type: 'events', events: [events[0]!, events[1]!, events[3]!] });
    expect(store.getSnapshot().state.headSeq).toBe(2);
    expect(socket.frames().at(-1)).toEqual({ type: 'hello', lastSeq: 2 });
    // A second batch past the gap races the answer: no second hello for the same head.
    socket.receive({ type: 'events', events: [events[4]!] });
    expect(socket.frames().filter((f) => f.type === 'hello')).toHaveLength(2);
    socket.receive({ type: 'events', events: events.slice(2) });
    expect(store.getSnapshot().state.headSeq).toBe(5);
    expect(store.getSnapshot().state.messages[1]?.text).toBe('Hello there');
  });

  it('ignores invalid frames with one warning', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { socket, store } = live();
    const before = store.getSnapshot();
    socket.receive('not json');
    socket.receive('{"type":"events","events":[{"seq":-1}]}');
    expect(store.getSnapshot()).toBe(before);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });

  it('keeps a sent prompt pending and resends it after a resume until the log shows it', () => {
    const { socket, store } = live();
    store.send('c1', 'Hi');
    expect(store.getSnapshot().pendingSends).toHaveLength(1);
    socket.drop();
    socket.open();
    socket.receive(ready(0));
    expect(socket.frames().filter((f) => f.type === 'send')).toHaveLength(2);
    socket.receive({ type: 'events', events: events.slice(0, 1) });
    expect(store.getSnapshot().pendingSends).toEqual([]);
  });

  it('stops reconnecting after a fatal unauthorized error', () => {
    const { socket, store } = live();
    socket.receive({ type: 'error', code: 'unauthorized', message: 'sign in', fatal: true });
    expect(socket.closed).toBe(true);
    expect(store.getSnapshot().connection).toBe('offline');
    expect(store.getSnapshot().error?.code).toBe('unauthorized');
  });

  it('retryNow reconnects at once', () => {
    const { socket, store } = live();
    socket.drop();
    store.retryNow();
    expect(socket.reconnects).toBe(1);
  });

  it('pings on an interval once ready', () => {
    vi.useFakeTimers();
    try {
      const socket = new FakeSocket();
      const store = new SessionStore({
        sessionId: 's1',
        createSocket: () => socket,
        url: () => 'ws://x',
        pingIntervalMs: 1000,
      });
      stores.push(store);
      store.connect();
      socket.open();
      vi.advanceTimersByTime(1000);
      expect(socket.sent).toEqual([]);
      socket.receive(ready(0));
      vi.advanceTimersByTime(1000);
      expect(socket.sent.at(-1)).toBe(PING_FRAME);
    } finally {
      vi.useRealTimers();
    }
  });

  it('notifies subscribers and keeps untouched messages identical', () => {
    const { socket, store } = live();
    socket.receive({ type: 'events', events: events.slice(0, 3) });
    const listener = vi.fn();
    store.subscribe(listener);
    const userMessage = store.getSnapshot().state.messages[0];
    socket.receive({ type: 'events', events: events.slice(3, 4) });
    expect(listener).toHaveBeenCalledTimes(1);
    expect(store.getSnapshot().state.messages[0]).toBe(userMessage);
  });
});
