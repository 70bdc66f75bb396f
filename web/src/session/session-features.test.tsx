import type { EventBody, SessionEvent, SessionState } from '@kiln/protocol';
import { committed, sampleBodies } from '@kiln/protocol/testing';
import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { backoffDelay } from '../lib/backoff';
import { replayTo, SessionHistory } from './history';
import { SessionView } from './session-view';
import type { SessionSocket } from './socket';
import { SessionStore } from './store';
import { SessionRoleContext, SessionStoreContext } from './use-session';

/** A socket whose frames the test delivers. */
class ScriptedSocket implements SessionSocket {
  private onMessage: ((event: { data: unknown }) => void) | undefined;
  send(): void {}
  close(): void {}
  reconnect(): void {}
  addEventListener(type: string, listener: (event: { data: unknown }) => void): void {
    if (type === 'message') this.onMessage = listener;
  }
  deliver(events: SessionEvent[]): void {
    act(() => this.onMessage?.({ data: JSON.stringify({ type: 'events', events }) }));
  }
}

/** Renders the session view over `events` (all applied), with the log served to the scrubber. */
function renderWith(events: SessionEvent[], role: 'owner' | 'viewer' = 'owner') {
  const state: SessionState = replayTo('s1', 'p1', events, events.length);
  const socket = new ScriptedSocket();
  const store = new SessionStore({
    sessionId: state.sessionId,
    initialState: state,
    createSocket: () => socket,
    url: () => 'ws://test',
  });
  store.connect();
  const fetchEvents = vi.fn(async (after: number, limit: number) => {
    const page = events.filter((e) => e.seq > after).slice(0, limit);
    return { events: page, headSeq: events.length, nextAfter: null };
  });
  // TraceView fetches over HTTP; the tests here stay on the Session tab.
  render(
    <SessionStoreContext value={store}>
      <SessionRoleContext value={role}>
        <SessionView fetchEvents={fetchEvents} />
      </SessionRoleContext>
    </SessionStoreContext>,
  );
  return { store, state, socket, fetchEvents };
}

/** Visible text of the parts the scrubber must reproduce. */
function rendered() {
  return {
    head: screen.getByTestId('session').getAttribute('data-head-seq'),
    messages: screen.queryAllByTestId('message').map((m) => m.textContent),
    todos: screen.queryAllByTestId('todo').map((t) => `${t.dataset.status}:${t.textContent}`),
    calls: screen.queryAllByTestId('tool-call').map((c) => `${c.dataset.status}:${c.textContent}`),
    status: screen.getByTestId('session-status').textContent,
  };
}

describe('timeline scrubber', () => {
  it('shows the session at seq N exactly as the reducer replayed to N, and returns to live', async () => {
    const events = committed(sampleBodies());
    const { state } = renderWith(events);
    const live = rendered();
    expect(live.head).toBe(String(state.headSeq));

    // Reference: the same view rendered from the reducer's state at each seq.
    for (const seq of [1, 3, Math.floor(state.headSeq / 2), state.headSeq - 1]) {
      const scrubber = screen.getByTestId('scrubber');
      act(() => {
        // A range input's value is set natively; React listens to the input event.
        const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')?.set;
        setter?.call(scrubber, String(seq));
        scrubber.dispatchEvent(new Event('input', { bubbles: true }));
      });
      await waitFor(() =>
        expect(screen.getByTestId('session').getAttribute('data-head-seq')).toBe(String(seq)),
      );
      const expected = replayTo(state.sessionId, state.projectId, events, seq);
      expect(screen.queryAllByTestId('tool-call')).toHaveLength(expected.toolCalls.length);
      expect(screen.queryAllByTestId('message')).toHaveLength(expected.messages.length);
      expect(screen.getByTestId('session-status').textContent).toBe(expected.status);
      expect(screen.getByTestId('past-banner').textContent).toContain(`seq ${seq}`);
    }
    await userEvent.click(screen.getByTestId('back-to-live'));
    expect(rendered()).toEqual(live);
  });

  it('SessionHistory.stateAt equals the reducer over the log at every seq, fetching pages once', async () => {
    const events = committed(sampleBodies());
    const fetchEvents = vi.fn(async (after: number, limit: number) => ({
      events: events.filter((e) => e.seq > after).slice(0, Math.min(limit, 3)),
      headSeq: events.length,
      nextAfter: null,
    }));
    const history = new SessionHistory('s1', 'p1', fetchEvents);
    for (let seq = events.length; seq >= 0; seq--) {
      expect(await history.stateAt(seq)).toEqual(replayTo('s1', 'p1', events, seq));
    }
    expect(fetchEvents).toHaveBeenCalledTimes(Math.ceil(events.length / 3));
  });
});

describe('follow-ups', () => {
  it('shows a prompt as sending until the log has it, then as queued while a turn runs', () => {
    const bodies = sampleBodies();
    const events = committed(bodies);
    const { store, socket } = renderWith(events);
    act(() => store.trackPending('c-follow', 'Now add a footer'));
    expect(screen.getByTestId('pending-message').textContent).toContain('Now add a footer');

    const follow: EventBody = {
      type: 'user-message',
      messageId: 'u-follow',
      clientMessageId: 'c-follow',
      text: 'Now add a footer',
      authorId: 'me',
    };
    // The log catches up: the pending prompt becomes a message, queued behind the running turn.
    socket.deliver(committed([follow], events.length + 1));
    expect(screen.queryAllByTestId('pending-message')).toHaveLength(0);
    const queued = screen
      .getAllByTestId('message')
      .filter((m) => m.getAttribute('data-queued') === 'true');
    expect(queued.map((m) => m.textContent)).toEqual([expect.stringContaining('Now add a footer')]);
    expect(queued[0]?.textContent).toContain('queued');
  });

  it('gives a viewer no composer and no Stop button, and says why', () => {
    renderWith(committed(sampleBodies()), 'viewer');
    expect(screen.getByTestId('composer-readonly').textContent).toContain('viewer');
    expect(screen.queryByTestId('follow-up-text')).toBeNull();
    expect(screen.queryByTestId('interrupt')).toBeNull();
  });

  it('sends a follow-up on Enter; Shift+Enter adds a line instead', async () => {
    const fetch = vi.fn(
      async (_url: string, _init?: RequestInit) =>
        new Response(JSON.stringify({ sessionId: 's1', messageId: 'm', seq: 99, created: true }), {
          status: 201,
        }),
    );
    vi.stubGlobal('fetch', fetch);
    try {
      renderWith(committed(sampleBodies()), 'owner');
      const box = screen.getByTestId('follow-up-text') as HTMLTextAreaElement;
      await userEvent.type(box, 'add a footer{Shift>}{Enter}{/Shift}and a map');
      expect(box.value).toBe('add a footer\nand a map');
      expect(fetch).not.toHaveBeenCalled();
      await userEvent.type(box, '{Enter}');
      await waitFor(() => expect(fetch).toHaveBeenCalledTimes(1));
      const [url, init] = fetch.mock.calls[0]!;
      expect(url).toBe('/api/projects/p1/sessions/s1/messages');
      expect(JSON.parse(String(init?.body))).toMatchObject({ text: 'add a footer\nand a map' });
      expect(box.value).toBe('');
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('offers Stop to a writer while a turn runs', () => {
    renderWith(committed(sampleBodies()), 'owner');
    expect(screen.getByTestId('interrupt')).toBeTruthy();
    expect(screen.getByTestId('follow-up-send').textContent).toBe('Queue');
  });
});

describe('reconnect backoff', () => {
  it('doubles from 1 s with jitter in [½d, d] and never exceeds 30 s', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(30_000, 1000 * 2 ** attempt);
      expect(backoffDelay(attempt, undefined, () => 0)).toBe(ceiling / 2);
      expect(backoffDelay(attempt, undefined, () => 1)).toBe(ceiling);
    }
    expect(backoffDelay(1000)).toBeLessThanOrEqual(30_000);
  });
});
