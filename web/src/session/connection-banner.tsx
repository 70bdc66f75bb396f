import { useEffect, useRef, useState } from 'react';
import type { SessionSnapshot, SessionStore } from './store';
import { useLiveSnapshot, useSessionStore } from './use-session';

const selectConnection = (s: SessionSnapshot) => s.connection;
const selectRetryAt = (s: SessionSnapshot) => s.retryAt;
const selectDisconnects = (s: SessionSnapshot) => s.disconnects;
const selectError = (s: SessionSnapshot) => s.error;

/** A blip shorter than this shows nothing (agentcmd: a banner after 500 ms). */
const BANNER_DELAY_MS = 800;

/**
 * The connection banner: "Reconnecting in N s · Retry now" or "Offline · Retry", shown only once
 * the connection has been down for `BANNER_DELAY_MS`; and one toast per lost connection, however
 * many retries fail.
 */
export function ConnectionBanner() {
  const store = useSessionStore();
  const connection = useLiveSnapshot(selectConnection);
  const retryAt = useLiveSnapshot(selectRetryAt);
  const disconnects = useLiveSnapshot(selectDisconnects);
  const error = useLiveSnapshot(selectError);
  const down = connection === 'reconnecting' || connection === 'offline';
  const visible = useDelayed(down, BANNER_DELAY_MS);
  const now = useNow(visible && retryAt !== null);
  const toast = useOneToastPerDisconnect(visible, disconnects);

  return (
    <>
      {visible && (
        <div
          className={`banner banner-${connection}`}
          role="status"
          data-testid="connection-banner"
          data-state={connection}
        >
          <span className="connection-dot" aria-hidden="true" />
          <span>
            {connection === 'offline'
              ? 'Offline. Kiln reconnects when the network is back.'
              : retryAt && retryAt > now
                ? `Reconnecting in ${Math.ceil((retryAt - now) / 1000)} s…`
                : 'Reconnecting…'}
          </span>
          {error && <span className="banner-detail">{error.message}</span>}
          <button type="button" className="button button-small" onClick={() => store.retryNow()}>
            Retry now
          </button>
        </div>
      )}
      {toast && (
        <div className="toast" role="alert" data-testid="toast">
          Lost the connection to this session. Nothing is lost: Kiln catches up when it is back.
        </div>
      )}
    </>
  );
}

/** Reconnects at once when the tab comes back into view or the network returns (agentcmd). */
export function useReconnectTriggers(store: SessionStore | null): void {
  useEffect(() => {
    if (!store) return;
    const retry = () => {
      if (!store.connected) return;
      const { connection } = store.getSnapshot();
      if (connection === 'reconnecting' || connection === 'offline') store.retryNow();
    };
    const visibility = () => {
      if (document.visibilityState === 'visible') retry();
    };
    const offline = () => store.markOffline();
    window.addEventListener('online', retry);
    window.addEventListener('focus', retry);
    window.addEventListener('offline', offline);
    document.addEventListener('visibilitychange', visibility);
    return () => {
      window.removeEventListener('online', retry);
      window.removeEventListener('focus', retry);
      window.removeEventListener('offline', offline);
      document.removeEventListener('visibilitychange', visibility);
    };
  }, [store]);
}

/** `value`, but turning true only after it has stayed true for `delayMs`. */
function useDelayed(value: boolean, delayMs: number): boolean {
  const [delayed, setDelayed] = useState(false);
  useEffect(() => {
    if (!value) {
      setDelayed(false);
      return;
    }
    const timer = setTimeout(() => setDelayed(true), delayMs);
    return () => clearTimeout(timer);
  }, [value, delayMs]);
  return delayed;
}

/** The clock, ticking each second while `ticking`. */
function useNow(ticking: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!ticking) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}

/** True for 6 s after the banner first shows for a given lost connection; never twice for one. */
function useOneToastPerDisconnect(visible: boolean, disconnects: number): boolean {
  const shownFor = useRef(-1);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (!visible || disconnects === 0 || shownFor.current === disconnects) return;
    shownFor.current = disconnects;
    setOpen(true);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setOpen(false), 6000);
  }, [visible, disconnects]);
  useEffect(() => () => clearTimeout(timer.current), []);
  return open;
}
