import type { SessionState } from '@kiln/protocol';
import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { ApiError, fetchProject, fetchSessionState, isUnauthorized } from '../lib/api';
import { useProjectChannel } from '../lib/use-project-channel';
import { useSignInRedirect } from '../lib/use-sign-in-redirect';
import { useReconnectTriggers } from '../session/connection-banner';
import { SessionView } from '../session/session-view';
import { SessionStore } from '../session/store';
import { SessionRoleContext, SessionStoreContext } from '../session/use-session';

type Role = 'owner' | 'editor' | 'viewer';

/** Statuses with a turn running or waiting: only these sessions keep a socket open. */
function isLiveStatus(status: string): boolean {
  return status === 'active' || status === 'queued';
}

type Load =
  | { kind: 'loading' }
  | { kind: 'ready'; store: SessionStore; role: Role | null }
  | { kind: 'not-found' }
  | { kind: 'error'; message: string };

/**
 * `/s/:sessionId` and `/projects/:projectId/s/:sessionId`: hydrates the session over HTTP. A
 * running session then stays live over its socket, resuming from the hydrated seq; an ended one
 * stays static (no socket) until the project channel says it runs again or the person follows up.
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
        const created = new SessionStore({ sessionId, initialState: state });
        store = created;
        if (isLiveStatus(state.status)) created.connect();
        setLoad({ kind: 'ready', store: created, role: null });
        // The role decides whether the composer and Stop show; until it is known, they do not.
        fetchProject(state.projectId, abort.signal).then(
          (project) => setLoad({ kind: 'ready', store: created, role: project.role as Role }),
          (error: unknown) => {
            if (!abort.signal.aborted) console.warn('kiln: could not load the project', error);
          },
        );
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
  useReconnectTriggers(store);
  useUnauthorizedRedirect(store, redirectToSignIn);
  useGoLiveWhenRunning(store);

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
          <SessionRoleContext value={load.role}>
            <SessionView />
          </SessionRoleContext>
        </SessionStoreContext>
      );
  }
}

/** A static session whose project channel reports it running again connects its socket. */
function useGoLiveWhenRunning(store: SessionStore | null) {
  const projectId = store?.getSnapshot().state.projectId ?? '';
  const channel = useProjectChannel(projectId, store !== null && projectId !== '');
  const sessionId = store?.getSnapshot().state.sessionId;
  const status = channel.state.sessions.find((s) => s.sessionId === sessionId)?.status;
  useEffect(() => {
    if (store && status && isLiveStatus(status) && !store.connected) store.connect();
  }, [store, status]);
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
