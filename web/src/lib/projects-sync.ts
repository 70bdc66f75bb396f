/**
 * Keeps the projects list current without an account-level channel (there is none: the worker's
 * channels are per project and per session, and opening one per listed project would also show
 * this person as watching every one of them). Two signals, and the list is refetched on either:
 * - another tab of this browser created, renamed or deleted a project: it says so on a
 *   `BroadcastChannel`, which reaches every other tab of the origin at once;
 * - this tab comes back into view or focus: a change made elsewhere (another browser, the CLI,
 *   someone adding this person to a project) shows on return.
 */
const CHANNEL = 'kiln:projects';

/** Tells the other tabs that the list of projects changed. */
export function announceProjectsChanged(): void {
  if (typeof BroadcastChannel === 'undefined') return; // nothing to tell: no other tab can listen
  const channel = new BroadcastChannel(CHANNEL);
  channel.postMessage({ type: 'projects-changed' });
  channel.close();
}

/** Calls `onChange` whenever the list may have changed elsewhere; returns the unsubscribe. */
export function onProjectsChanged(onChange: () => void): () => void {
  const channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(CHANNEL);
  channel?.addEventListener('message', onChange);
  const onVisible = () => {
    if (document.visibilityState === 'visible') onChange();
  };
  document.addEventListener('visibilitychange', onVisible);
  window.addEventListener('focus', onChange);
  return () => {
    channel?.close();
    document.removeEventListener('visibilitychange', onVisible);
    window.removeEventListener('focus', onChange);
  };
}
