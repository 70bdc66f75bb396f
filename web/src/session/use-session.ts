import type { SessionState } from '@kiln/protocol';
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { SessionSnapshot, SessionStore } from './store';

/** The store of the session the page shows. */
export const SessionStoreContext = createContext<SessionStore | null>(null);

/** The session store from context; throws outside a `SessionStoreContext` provider. */
export function useSessionStore(): SessionStore {
  const store = useContext(SessionStoreContext);
  if (!store) throw new Error('useSessionStore must be used inside SessionStoreContext');
  return store;
}

/**
 * Reads part of the session snapshot. The selector must return something the reducer shares
 * between events (an array, an object, a primitive) so that unrelated events do not re-render.
 */
export function useSessionSnapshot<T>(select: (snapshot: SessionSnapshot) => T): T {
  const store = useSessionStore();
  return useSyncExternalStore(
    store.subscribe,
    () => select(store.getSnapshot()),
    () => select(store.getSnapshot()),
  );
}

/** Reads part of the session state; see `useSessionSnapshot`. */
export function useSessionState<T>(select: (state: SessionState) => T): T {
  return useSessionSnapshot((snapshot) => select(snapshot.state));
}
