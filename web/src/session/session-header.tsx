import type { SessionState } from '@kiln/protocol';
import { Avatars } from '../components/avatars';
import { ConnectionIndicator } from './connection-indicator';
import type { SessionSnapshot } from './store';
import { useLiveSnapshot, useSessionState } from './use-session';

const selectTitle = (state: SessionState) => state.title;
const selectStatus = (state: SessionState) => state.status;
const selectStatusReason = (state: SessionState) => state.statusReason;
const selectLastTurn = (state: SessionState) => state.turns[state.turns.length - 1];
const selectUsage = (state: SessionState) => state.usage;
const selectPresence = (s: SessionSnapshot) => s.presence;
const selectViewerId = (s: SessionSnapshot) => s.viewerId;

/** Title, status, agent and model, who else watches, the connection, and the Session/Trace tabs. */
export function SessionHeader({
  tab,
  onTab,
}: {
  tab: 'session' | 'trace';
  onTab: (tab: 'session' | 'trace') => void;
}) {
  const title = useSessionState(selectTitle);
  const status = useSessionState(selectStatus);
  const reason = useSessionState(selectStatusReason);
  const lastTurn = useSessionState(selectLastTurn);
  const usage = useSessionState(selectUsage);
  const presence = useLiveSnapshot(selectPresence);
  const viewerId = useLiveSnapshot(selectViewerId);

  return (
    <header className="session-header">
      <div className="session-heading">
        <h1 className={title ? undefined : 'untitled'}>{title || 'Untitled session'}</h1>
        <div className="session-subline">
          <span
            className={`badge badge-${status}`}
            data-testid="session-status"
            title={reason ?? undefined}
          >
            {status}
          </span>
          {reason && <span className="status-reason">{reason}</span>}
          {lastTurn && (
            <span className="muted">
              {lastTurn.agent}
              {lastTurn.model ? ` · ${lastTurn.model}` : ''}
            </span>
          )}
          {usage.inputTokens + usage.outputTokens > 0 && (
            <span className="muted">
              {(usage.inputTokens + usage.outputTokens).toLocaleString()} tokens · $
              {usage.costUsd.toFixed(usage.costUsd < 0.01 && usage.costUsd > 0 ? 4 : 2)}
            </span>
          )}
        </div>
      </div>
      <div className="session-header-right">
        <Avatars presence={presence} selfId={viewerId} label="Also watching this session" />
        <ConnectionIndicator />
        <div className="tabs" role="tablist" aria-label="Session views">
          {(['session', 'trace'] as const).map((t) => (
            <button
              key={t}
              type="button"
              role="tab"
              aria-selected={tab === t}
              className={`tab${tab === t ? ' tab-active' : ''}`}
              onClick={() => onTab(t)}
              data-testid={`tab-${t}`}
            >
              {t === 'session' ? 'Session' : 'Trace'}
            </button>
          ))}
        </div>
      </div>
    </header>
  );
}
