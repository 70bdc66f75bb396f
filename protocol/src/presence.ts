import type { PresenceDiffFrame, PresenceFrame, Viewer } from './frames';

/**
 * What a subscriber knows of who watches (PROTOCOL.md §2, presence): the first
 * `PRESENCE_LIST_LIMIT` viewers in the order they joined, and how many watch in all.
 */
export interface PresenceView {
  viewers: readonly Viewer[];
  count: number;
}

export const NO_PRESENCE: PresenceView = { viewers: [], count: 0 };

/**
 * The view after a `presence` frame (replaces it) or a `presence-diff` (drops `left`, appends
 * `joined` that are not listed yet, takes `count`). Pure; the web store, the project channel and
 * tests fold frames with it.
 */
export function applyPresence(
  view: PresenceView,
  frame: PresenceFrame | PresenceDiffFrame,
): PresenceView {
  if (frame.type === 'presence') return { viewers: frame.viewers, count: frame.count };
  const left = new Set(frame.left);
  const kept = view.viewers.filter((v) => !left.has(v.viewerId));
  const listed = new Set(kept.map((v) => v.viewerId));
  return {
    viewers: [...kept, ...frame.joined.filter((v) => !listed.has(v.viewerId))],
    count: frame.count,
  };
}
