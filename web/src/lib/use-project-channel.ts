import {
  applyProjectEvent,
  createProjectState,
  type ProjectSession,
  type ProjectState,
  parseFrame,
  projectServerFrame,
  type Viewer,
} from '@kiln/protocol';
import { useEffect, useState } from 'react';
import { ReconnectingSocket } from './reconnecting-socket';

/** What the project channel (`/api/projects/:id/ws`) has told this tab so far. */
export interface ProjectChannel {
  state: ProjectState;
  viewers: Viewer[];
  connected: boolean;
}

/**
 * Follows a project's channel: `hello {lastSeq}` after every `ready` (resume), events through the
 * shared project reducer, a gap or a snapshot handled as PROTOCOL §8 says.
 */
export function useProjectChannel(projectId: string, enabled = true): ProjectChannel {
  const [channel, setChannel] = useState<ProjectChannel>(() => ({
    state: createProjectState(projectId),
    viewers: [],
    connected: false,
  }));

  useEffect(() => {
    if (!enabled) return;
    let state = createProjectState(projectId);
    const protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${protocol}//${window.location.host}/api/projects/${encodeURIComponent(projectId)}/ws`;
    const socket = new ReconnectingSocket(() => url);
    socket.addEventListener('close', () => setChannel((c) => ({ ...c, connected: false })));
    socket.addEventListener('message', (event) => {
      const parsed = parseFrame(projectServerFrame, String(event.data));
      if (!parsed.ok) return; // a frame from a newer server: ignore rather than break the page
      const frame = parsed.frame;
      switch (frame.type) {
        case 'ready':
          socket.send(JSON.stringify({ type: 'hello', lastSeq: state.headSeq }));
          setChannel((c) => ({ ...c, connected: true }));
          return;
        case 'snapshot':
          state = frame.state;
          break;
        case 'events':
          try {
            for (const e of frame.events) state = applyProjectEvent(state, e);
          } catch {
            // A gap: ask again from what we have.
            socket.send(JSON.stringify({ type: 'hello', lastSeq: state.headSeq }));
          }
          break;
        case 'presence':
          setChannel((c) => ({ ...c, viewers: frame.viewers }));
          return;
        default:
          return;
      }
      const next = state;
      setChannel((c) => ({ ...c, state: next }));
    });
    const retry = () => socket.reconnect();
    const visible = () => {
      if (document.visibilityState === 'visible' && !socket.isOpen) retry();
    };
    window.addEventListener('online', retry);
    document.addEventListener('visibilitychange', visible);
    return () => {
      window.removeEventListener('online', retry);
      document.removeEventListener('visibilitychange', visible);
      socket.close();
    };
  }, [projectId, enabled]);

  return channel;
}

/**
 * The project's sessions: the list loaded over HTTP (D1) overlaid with what the channel reported
 * since (new sessions, status and title changes, deletions), oldest first.
 */
export function mergeSessions(
  loaded: readonly ProjectSession[],
  channel: ProjectState,
  deleted: ReadonlySet<string>,
): ProjectSession[] {
  const byId = new Map(loaded.map((s) => [s.sessionId, s]));
  for (const s of channel.sessions) byId.set(s.sessionId, { ...byId.get(s.sessionId), ...s });
  return [...byId.values()]
    .filter((s) => !deleted.has(s.sessionId) && !s.archived)
    .sort((a, b) => a.createdAt - b.createdAt || a.sessionId.localeCompare(b.sessionId));
}
