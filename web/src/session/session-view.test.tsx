import type { EventBody, SessionServerFrame, SessionState } from '@kiln/protocol';
import { committed, sampleBodies, stateFrom } from '@kiln/protocol/testing';
import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { SessionView } from './session-view';
import type { SessionSocket } from './socket';
import { SessionStore } from './store';
import { SessionStoreContext } from './use-session';

/** A socket whose messages the test delivers. */
class ScriptedSocket implements SessionSocket {
  private onMessage: ((event: { data: unknown }) => void) | undefined;
  send(): void {}
  close(): void {}
  reconnect(): void {}
  addEventListener(type: string, listener: (event: { data: unknown }) => void): void {
    if (type === 'message') this.onMessage = listener;
  }
  deliver(frame: SessionServerFrame): void {
    act(() => this.onMessage?.({ data: JSON.stringify(frame) }));
  }
}

function renderSession(initialState: SessionState) {
  const socket = new ScriptedSocket();
  const store = new SessionStore({
    sessionId: initialState.sessionId,
    initialState,
    createSocket: () => socket,
    url: () => 'ws://test',
  });
  store.connect();
  const view = render(
    <SessionStoreContext value={store}>
      <SessionView />
    </SessionStoreContext>,
  );
  return { ...view, store, socket };
}

function rowOf(name: string): HTMLElement {
  const rows = screen.getAllByTestId('tool-call');
  const row = rows.find((r) => r.querySelector('.tool-call-name')?.textContent === name);
  if (!row) throw new Error(`no tool call row named ${name}`);
  return row;
}

describe('SessionView', () => {
  it('renders one tool-call row per tool call, subagent calls included', () => {
    const state = stateFrom(sampleBodies());
    renderSession(state);
    expect(screen.getAllByTestId('tool-call')).toHaveLength(state.toolCalls.length);
    expect(screen.getAllByTestId('todo')).toHaveLength(3);
    expect(screen.getAllByTestId('message')).toHaveLength(2);
    expect(screen.getByTestId('session').getAttribute('data-head-seq')).toBe(String(state.headSeq));
    expect(screen.getByTestId('session-status').textContent).toBe('active');
    expect(screen.getByTestId('todo-progress').textContent).toBe('1/3 done');
  });

  it('nests a call made while todo 2 was in progress under todo 2', () => {
    renderSession(stateFrom(sampleBodies()));
    const [first, second, third] = screen.getAllByTestId('todo');
    expect(within(first!).queryAllByTestId('tool-call')).toHaveLength(0);
    const names = within(second!)
      .getAllByTestId('tool-call')
      .map((row) => row.querySelector('.tool-call-name')?.textContent);
    expect(names).toEqual(['Write', 'Task', 'Read', 'Bash']);
    expect(within(third!).queryAllByTestId('tool-call')).toHaveLength(0);
  });

  it('nests a subagent call under the call that spawned it', () => {
    renderSession(stateFrom(sampleBodies()));
    const task = rowOf('Task');
    const nested = within(task).getAllByTestId('tool-call');
    expect(nested.map((row) => row.querySelector('.tool-call-name')?.textContent)).toEqual([
      'Read',
    ]);
    expect(within(rowOf('Write')).queryAllByTestId('tool-call')).toHaveLength(0);
  });

  it('puts calls made outside any todo under "Other tool calls"', () => {
    const bodies: EventBody[] = [
      {
        type: 'turn-started',
        turnId: 't1',
        buildId: 'b',
        runnerId: 'r',
        agent: 'demo',
        model: 'm',
      },
      {
        type: 'tool-input-available',
        toolCallId: 'x1',
        toolName: 'Glob',
        input: { pattern: '**/*.ts' },
      },
    ];
    renderSession(stateFrom(bodies));
    const section = screen.getByRole('region', { name: 'Other tool calls' });
    expect(within(section).getAllByTestId('tool-call')).toHaveLength(1);
    expect(within(section).getByText('**/*.ts')).toBeTruthy();
    expect(rowOf('Glob').getAttribute('data-status')).toBe('running');
  });

  it('expands a tool call to show its input and output, marking errors and truncation', async () => {
    const user = userEvent.setup();
    renderSession(stateFrom(sampleBodies()));

    const bash = rowOf('Bash');
    expect(bash.getAttribute('data-status')).toBe('error');
    const toggle = within(bash).getAllByRole('button')[0]!;
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(within(bash).queryByText('error: missing script build')).toBeNull();
    await user.click(toggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(within(bash).getByText(/"command": "npm run build"/)).toBeTruthy();
    const output = within(bash).getByText('error: missing script build');
    expect(output.className).toContain('code-error');

    const read = rowOf('Read');
    await user.click(within(read).getAllByRole('button')[0]!);
    expect(within(read).getByText(/output truncated/)).toBeTruthy();
    expect(within(read).getAllByText('truncated').length).toBeGreaterThan(0);
  });

  it('summarises a tool input on one line', () => {
    renderSession(stateFrom(sampleBodies()));
    expect(within(rowOf('Write')).getByText('index.html')).toBeTruthy();
    expect(within(rowOf('Bash')).getByText('npm run build')).toBeTruthy();
    expect(within(rowOf('Task')).getByText('Review the HTML')).toBeTruthy();
  });

  it('shows streaming assistant text as it arrives, as markdown', () => {
    const bodies = sampleBodies();
    const state = stateFrom(bodies);
    const { socket } = renderSession(state);
    socket.deliver({
      type: 'ready',
      sessionId: 's1',
      headSeq: state.headSeq,
      protocolVersion: 1,
      viewerId: 'v',
    });
    expect(screen.getByTestId('connection').getAttribute('data-state')).toBe('live');
    const next = state.headSeq + 1;
    socket.deliver({
      type: 'events',
      events: committed(
        [
          { type: 'message-start', messageId: 'a2', role: 'assistant' },
          { type: 'reasoning-delta', messageId: 'a2', delta: 'Thinking about the build' },
          { type: 'text-delta', messageId: 'a2', delta: 'The build ' },
        ],
        next,
      ),
    });
    const messages = screen.getAllByTestId('message');
    expect(messages).toHaveLength(3);
    const streaming = messages[2]!;
    expect(streaming.getAttribute('data-status')).toBe('streaming');
    expect(streaming.textContent).toContain('The build');
    const reasoning = streaming.querySelector('details');
    expect(reasoning?.open).toBe(false);
    expect(reasoning?.textContent).toContain('Thinking about the build');

    socket.deliver({
      type: 'events',
      events: committed([{ type: 'text-delta', messageId: 'a2', delta: '**failed**.' }], next + 3),
    });
    expect(streaming.querySelector('strong')?.textContent).toBe('failed');
    expect(screen.getByTestId('session').getAttribute('data-head-seq')).toBe(String(next + 3));
  });

  it('renders user messages as plain text, not markdown', () => {
    renderSession(
      stateFrom([
        {
          type: 'user-message',
          messageId: 'u',
          clientMessageId: 'c',
          text: '**not bold**',
          authorId: 'me',
        },
      ]),
    );
    const message = screen.getByTestId('message');
    expect(message.querySelector('strong')).toBeNull();
    expect(message.textContent).toContain('**not bold**');
  });

  it('marks a call still running when its turn ended as abandoned, and shows turns and usage', () => {
    renderSession(
      stateFrom([
        {
          type: 'turn-started',
          turnId: 't1',
          buildId: 'b',
          runnerId: 'r',
          agent: 'demo',
          model: 'demo-1',
        },
        {
          type: 'tool-input-available',
          toolCallId: 'x',
          toolName: 'Bash',
          input: { command: 'sleep 99' },
        },
        {
          type: 'usage',
          inputTokens: 1200,
          outputTokens: 300,
          cacheReadTokens: 50,
          cacheWriteTokens: 7,
          reasoningTokens: 0,
          model: 'demo-1',
          costUsd: 0.25,
        },
        {
          type: 'turn-finished',
          turnId: 't1',
          status: 'failed',
          error: 'runner-lost',
          durationMs: 4000,
        },
      ]),
    );
    expect(rowOf('Bash').getAttribute('data-status')).toBe('abandoned');
    expect(screen.getByTestId('session-status').textContent).toBe('failed');
    const turn = screen.getByTestId('turn');
    expect(turn.getAttribute('data-status')).toBe('failed');
    expect(turn.textContent).toContain('runner-lost');
    const usage = screen.getByTestId('usage');
    expect(usage.textContent).toContain('1,200');
    expect(usage.textContent).toContain('$0.25');
  });

  it('offers "Retry now" while reconnecting', async () => {
    const user = userEvent.setup();
    const state = stateFrom(sampleBodies());
    const { store } = renderSession(state);
    expect(screen.getByTestId('connection').getAttribute('data-state')).toBe('connecting');
    act(() => store.markOffline());
    expect(screen.getByTestId('connection').getAttribute('data-state')).toBe('offline');
    await user.click(screen.getByRole('button', { name: 'Retry now' }));
    expect(screen.getByTestId('connection').getAttribute('data-state')).toBe('reconnecting');
  });
});
