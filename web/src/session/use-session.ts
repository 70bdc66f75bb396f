import type { SessionState } from '@kiln/protocol';
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { SessionSnapshot, SessionStore } from './store';

/** The store of the session the page shows. */
export const SessionStoreContext = createContext<SessionStore | null>(null);

/** What the view reads: the live store, or a frozen past snapshot while the timeline scrubs. */
export interface SessionSource {
  subscribe(listener: () => void): () => void;
  getSnapshot(): SessionSnapshot;
}

/** Overrides what `useSessionSnapshot` reads (the timeline's view of a past seq). */
export const SessionSourceContext = createContext<SessionSource | null>(null);

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
  const source = useContext(SessionSourceContext) ?? store;
  return useSyncExternalStore(
    source.subscribe,
    () => select(source.getSnapshot()),
    () => select(source.getSnapshot()),
  );
}

/** Reads the live store even while the view shows the past (connection, queued sends). */
export function useLiveSnapshot<T>(select: (snapshot: SessionSnapshot) => T): T {
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

/** The person's role in the session's project; `null` while unknown (treated as read-only). */
export const SessionRoleContext = createContext<'owner' | 'editor' | 'viewer' | null>(null);

/** True when the person may send prompts and interrupt (owners and editors). */
export function useCanWrite(): boolean {
  const role = useContext(SessionRoleContext);
  return role === 'owner' || role === 'editor';
}
