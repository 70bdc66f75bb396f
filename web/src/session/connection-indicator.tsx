import type { SessionSnapshot } from './store';
import { useSessionSnapshot, useSessionStore } from './use-session';

const selectConnection = (snapshot: SessionSnapshot) => snapshot.connection;
const selectError = (snapshot: SessionSnapshot) => snapshot.error;

const LABELS = {
  static: 'Ended · not live',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
} as const;

/** Live / reconnecting / offline, with "Retry now" when not live. */
export function ConnectionIndicator() {
  const store = useSessionStore();
  const connection = useSessionSnapshot(selectConnection);
  const error = useSessionSnapshot(selectError);
  const canRetry = connection === 'reconnecting' || connection === 'offline';

  return (
    <div className="connection" data-testid="connection" data-state={connection}>
      <span className="connection-dot" aria-hidden="true" />
      <span className="connection-label" role="status">
        {LABELS[connection]}
      </span>
      {canRetry && (
        <button type="button" className="button button-small" onClick={() => store.retryNow()}>
          Retry now
        </button>
      )}
      {error && connection !== 'live' && (
        <span className="connection-error" title={error.code}>
          {error.message}
        </span>
      )}
    </div>
  );
}
