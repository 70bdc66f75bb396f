import type { EventBody } from '@kiln/protocol';
import { sampleBodies, stateFrom } from '@kiln/protocol/testing';
import { act, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SessionStore } from './store';
import { TodoPanel } from './todo-panel';
import { SessionStoreContext } from './use-session';
import { VIRTUALIZE_TOOL_CALLS_AFTER } from './virtual-plan';

/** `count` more finished Read calls after the sample session's (which has 3 todos). */
function withCalls(count: number): EventBody[] {
  const bodies = sampleBodies();
  for (let i = 0; i < count; i++) {
    bodies.push({
      type: 'tool-input-available',
      toolCallId: `many-${i}`,
      toolName: 'Read',
      input: { file_path: `src/file-${i}.ts` },
    });
  }
  return bodies;
}

function renderPlan(bodies: EventBody[]) {
  const state = stateFrom(bodies);
  const store = new SessionStore({
    sessionId: state.sessionId,
    initialState: state,
    createSocket: () => {
      throw new Error('not connected in this test');
    },
    url: () => 'ws://test',
  });
  render(
    <SessionStoreContext value={store}>
      <aside data-scroll-pane data-testid="pane">
        <TodoPanel />
      </aside>
    </SessionStoreContext>,
  );
  return state;
}

// jsdom lays nothing out: give the pane a 600 px viewport and every row 34 px, as a browser would.
const saved = {
  clientHeight: Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'clientHeight'),
  offsetHeight: Object.getOwnPropertyDescriptor(HTMLElement.prototype, 'offsetHeight'),
};
beforeEach(() => {
  Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
    configurable: true,
    get(this: HTMLElement) {
      return this.hasAttribute('data-scroll-pane') ? 600 : 0;
    },
  });
  Object.defineProperty(HTMLElement.prototype, 'offsetHeight', {
    configurable: true,
    get: () => 34,
  });
});
afterEach(() => {
  for (const [key, descriptor] of Object.entries(saved)) {
    if (descriptor) Object.defineProperty(HTMLElement.prototype, key, descriptor);
  }
});

describe('the plan with many tool calls', () => {
  it('keeps every call in the DOM up to the threshold', () => {
    const state = renderPlan(withCalls(VIRTUALIZE_TOOL_CALLS_AFTER - 10));
    expect(state.toolCalls.length).toBeLessThanOrEqual(VIRTUALIZE_TOOL_CALLS_AFTER);
    expect(screen.getAllByTestId('tool-call')).toHaveLength(state.toolCalls.length);
    expect(document.querySelector('[data-virtualized]')).toBeNull();
  });

  it('with 2,000 calls renders only the rows in view, and scrolling brings later ones in', () => {
    const state = renderPlan(withCalls(2000));
    expect(state.toolCalls.length).toBeGreaterThan(2000);
    const first = screen.getAllByTestId('tool-call');
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(100);
    // The calls all started under todo 2, so todo 3 comes after them, out of view.
    expect(screen.getAllByTestId('todo')).toHaveLength(2);
    const ids = () => screen.getAllByTestId('tool-call').map((r) => r.dataset.toolCallId);
    expect(ids()).not.toContain('many-1500');

    const pane = screen.getByTestId('pane');
    Object.defineProperty(pane, 'scrollTop', { configurable: true, value: 1500 * 34 });
    act(() => {
      fireEvent.scroll(pane);
    });
    expect(ids()).toContain('many-1500');
    expect(ids()).not.toContain('tc1');
    expect(screen.getAllByTestId('tool-call').length).toBeLessThan(100);

    Object.defineProperty(pane, 'scrollTop', { configurable: true, value: 2100 * 34 });
    act(() => {
      fireEvent.scroll(pane);
    });
    expect(screen.getByText('Run the build')).toBeTruthy();
  });
});
