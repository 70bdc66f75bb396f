import type { SessionState } from '@kiln/protocol';
import { ConnectionIndicator } from './connection-indicator';
import { useSessionState } from './use-session';

const selectTitle = (state: SessionState) => state.title;
const selectStatus = (state: SessionState) => state.status;
const selectStatusReason = (state: SessionState) => state.statusReason;
const selectLastTurn = (state: SessionState) => state.turns[state.turns.length - 1];
const selectPreview = (state: SessionState) => state.preview;

/** Title, status badge, the agent and model of the latest turn, preview link, connection. */
export function SessionHeader() {
  const title = useSessionState(selectTitle);
  const status = useSessionState(selectStatus);
  const reason = useSessionState(selectStatusReason);
  const lastTurn = useSessionState(selectLastTurn);
  const preview = useSessionState(selectPreview);

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
          {preview && preview.status === 'ready' && (
            <a
              className="preview-link"
              href={preview.url}
              target="_blank"
              rel="noopener noreferrer"
            >
              Open preview ↗
            </a>
          )}
        </div>
      </div>
      <ConnectionIndicator />
    </header>
  );
}
