import type { SessionState } from '@kiln/protocol';
import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { ApiError, fetchSessionState, isUnauthorized } from '../lib/api';
import { useSignInRedirect } from '../lib/use-sign-in-redirect';
import { SessionView } from '../session/session-view';
import { SessionStore } from '../session/store';
import { SessionStoreContext } from '../session/use-session';

type Load =
  | { kind: 'loading' }
  | { kind: 'ready'; store: SessionStore }
  | { kind: 'not-found' }
  | { kind: 'error'; message: string };

/**
 * `/s/:sessionId` and `/projects/:projectId/s/:sessionId`: hydrates the session over HTTP, then
 * keeps it live over its socket, resuming from the hydrated seq.
 */
export function SessionPage() {
  const { sessionId = '' } = useParams();
  const [load, setLoad] = useState<Load>({ kind: 'loading' });
  const [attempt, setAttempt] = useState(0);
  const redirectToSignIn = useSignInRedirect();

  // biome-ignore lint/correctness/useExhaustiveDependencies: `attempt` re-runs the load on "Try again"
  useEffect(() => {
    const abort = new AbortController();
    let store: SessionStore | null = null;
    setLoad({ kind: 'loading' });
    fetchSessionState(sessionId, abort.signal).then(
      (state: SessionState) => {
        if (abort.signal.aborted) return;
        store = new SessionStore({ sessionId, initialState: state });
        store.connect();
        setLoad({ kind: 'ready', store });
      },
      (error: unknown) => {
        if (abort.signal.aborted) return;
        if (isUnauthorized(error)) redirectToSignIn();
        else if (error instanceof ApiError && error.status === 404) setLoad({ kind: 'not-found' });
        else setLoad({ kind: 'error', message: errorMessage(error) });
      },
    );
    return () => {
      abort.abort();
      store?.dispose();
    };
  }, [sessionId, redirectToSignIn, attempt]);

  const store = load.kind === 'ready' ? load.store : null;
  useBrowserConnectivity(store);
  useUnauthorizedRedirect(store, redirectToSignIn);

  switch (load.kind) {
    case 'loading':
      return (
        <div className="page-center" aria-busy="true">
          <div className="spinner" />
          <p className="muted">Loading session…</p>
        </div>
      );
    case 'not-found':
      return (
        <div className="page-center">
          <h1>Session not found</h1>
          <p className="muted">
            There is no session <code>{sessionId}</code>, or you may not see it.
          </p>
          <Link className="button" to="/">
            Go home
          </Link>
        </div>
      );
    case 'error':
      return (
        <div className="page-center">
          <h1>Could not load the session</h1>
          <p className="muted">{load.message}</p>
          <button type="button" className="button" onClick={() => setAttempt((n) => n + 1)}>
            Try again
          </button>
        </div>
      );
    case 'ready':
      return (
        <SessionStoreContext value={load.store}>
          <SessionView />
        </SessionStoreContext>
      );
  }
}

/** Goes offline with the browser and retries as soon as it is back online. */
function useBrowserConnectivity(store: SessionStore | null) {
  useEffect(() => {
    if (!store) return;
    const online = () => store.retryNow();
    const offline = () => store.markOffline();
    window.addEventListener('online', online);
    window.addEventListener('offline', offline);
    return () => {
      window.removeEventListener('online', online);
      window.removeEventListener('offline', offline);
    };
  }, [store]);
}

/** A socket refused for lack of a sign-in sends the person to sign in. */
function useUnauthorizedRedirect(store: SessionStore | null, redirect: () => void) {
  useEffect(() => {
    if (!store) return;
    return store.subscribe(() => {
      if (store.getSnapshot().error?.code === 'unauthorized') redirect();
    });
  }, [store, redirect]);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : 'Something went wrong.';
}
