import type { SessionState } from '@kiln/protocol';
import { type ReactNode, useCallback, useMemo, useRef, useState } from 'react';
import { fetchEventsPage } from '../lib/api';
import { ConnectionBanner } from './connection-banner';
import { DiagnosticsPanel } from './diagnostics-panel';
import { SessionHistory } from './history';
import { MessageList } from './message-list';
import { PreviewPane } from './preview-pane';
import { SessionComposer } from './session-composer';
import { SessionHeader } from './session-header';
import type { SessionSnapshot } from './store';
import { Timeline } from './timeline';
import { TodoPanel } from './todo-panel';
import { TraceView } from './trace-view';
import { TurnList } from './turn-list';
import { UsagePanel } from './usage-panel';
import {
  type SessionSource,
  SessionSourceContext,
  useSessionState,
  useSessionStore,
} from './use-session';

const selectHeadSeq = (state: SessionState) => state.headSeq;

type Tab = 'session' | 'trace';

/**
 * The whole session from the store in context: header with tabs, the timeline and scrubber, the
 * conversation with its composer, and the plan with nested tool calls, usage, turns and preview.
 * Each part subscribes to its own slice of the state. While the scrubber holds a past seq, every
 * part reads a frozen snapshot (the reducer replayed to that seq) instead of the live store.
 */
export function SessionView({
  fetchEvents,
}: {
  fetchEvents?: ConstructorParameters<typeof SessionHistory>[2];
} = {}) {
  const store = useSessionStore();
  const [tab, setTab] = useState<Tab>('session');
  const [past, setPast] = useState<{ seq: number; source: SessionSource } | null>(null);
  const [scrubbing, setScrubbing] = useState(false);
  const history = useRef<SessionHistory | null>(null);
  const latest = useRef(0);

  const onScrub = useCallback(
    (seq: number) => {
      const live = store.getSnapshot();
      if (seq >= live.state.headSeq) {
        setPast(null);
        return;
      }
      if (!history.current) {
        const { sessionId, projectId } = live.state;
        history.current = new SessionHistory(
          sessionId,
          projectId,
          fetchEvents ?? ((after, limit) => fetchEventsPage(sessionId, after, limit)),
        );
      }
      const request = ++latest.current;
      setScrubbing(true);
      history.current.stateAt(seq).then(
        (state) => {
          // Only the last position asked for is shown: dragging fires many.
          if (request !== latest.current) return;
          setScrubbing(false);
          setPast({ seq, source: frozenSource({ ...store.getSnapshot(), state }) });
        },
        (error: unknown) => {
          if (request !== latest.current) return;
          setScrubbing(false);
          console.warn('kiln: could not load the session history', error);
        },
      );
    },
    [store, fetchEvents],
  );
  const onLive = useCallback(() => {
    latest.current++;
    setScrubbing(false);
    setPast(null);
  }, []);

  const body = useMemo(
    () => (
      <>
        <SessionHeader tab={tab} onTab={setTab} />
        <ConnectionBanner />
        {past && (
          <div className="past-banner" role="status" data-testid="past-banner">
            Viewing the session as it was at seq {past.seq}.{' '}
            <button type="button" className="button button-small" onClick={onLive}>
              Back to live
            </button>
          </div>
        )}
        {tab === 'trace' ? (
          <TraceView />
        ) : (
          <div className="session-body">
            <Timeline
              viewSeq={past?.seq ?? null}
              onScrub={onScrub}
              onLive={onLive}
              scrubbing={scrubbing}
            />
            <div className="pane-conversation">
              <section className="pane" aria-label="Conversation" data-scroll-pane>
                <MessageList />
              </section>
              {!past && <SessionComposer />}
            </div>
            <aside className="pane pane-activity" aria-label="Activity" data-scroll-pane>
              <DiagnosticsPanel />
              <TodoPanel />
              <UsagePanel />
              <TurnList />
              <PreviewPane />
            </aside>
          </div>
        )}
      </>
    ),
    [tab, past, onScrub, onLive, scrubbing],
  );

  const content = <SessionRoot>{body}</SessionRoot>;
  return past ? (
    <SessionSourceContext value={past.source}>{content}</SessionSourceContext>
  ) : (
    content
  );
}

/** A source that never changes: the snapshot of a past seq. */
function frozenSource(snapshot: SessionSnapshot): SessionSource {
  return { subscribe: () => () => {}, getSnapshot: () => snapshot };
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
