import type { SessionState } from '@kiln/protocol';
import type { ReactNode } from 'react';
import { DiagnosticsPanel } from './diagnostics-panel';
import { MessageList } from './message-list';
import { SessionHeader } from './session-header';
import { TodoPanel } from './todo-panel';
import { TurnList } from './turn-list';
import { UsagePanel } from './usage-panel';
import { useSessionState } from './use-session';

const selectHeadSeq = (state: SessionState) => state.headSeq;

/**
 * The whole session, live from the store in context: header, conversation, plan with nested tool
 * calls, usage and turns. Each part subscribes to its own slice of the state.
 */
export function SessionView() {
  return (
    <SessionRoot>
      <SessionHeader />
      <div className="session-body">
        <section className="pane pane-conversation" aria-label="Conversation" data-scroll-pane>
          <MessageList />
        </section>
        <aside className="pane pane-activity" aria-label="Activity" data-scroll-pane>
          <DiagnosticsPanel />
          <TodoPanel />
          <UsagePanel />
          <TurnList />
        </aside>
      </div>
    </SessionRoot>
  );
}

/**
 * The root element, carrying `data-head-seq` for tests and tools. Its children are created by
 * `SessionView`, which never re-renders on events, so a new seq re-renders only this element.
 */
function SessionRoot({ children }: { children: ReactNode }) {
  const headSeq = useSessionState(selectHeadSeq);
  return (
    <div className="session" data-testid="session" data-head-seq={headSeq}>
      {children}
    </div>
  );
}
