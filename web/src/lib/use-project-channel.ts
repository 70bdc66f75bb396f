import {
  applyPresence,
  applyProjectEvent,
  createProjectState,
  NO_PRESENCE,
  type PresenceView,
  type ProjectSession,
  type ProjectState,
  parseFrame,
  projectServerFrame,
  ResumeLink,
  ResumingSubscriber,
} from '@kiln/protocol';
import { useEffect, useState } from 'react';
import { ReconnectingSocket } from './reconnecting-socket';

/** What the project channel (`/api/projects/:id/ws`) has told this tab so far. */
export interface ProjectChannel {
  state: ProjectState;
  /** Who has the project open (`presence` / `presence-diff` folded by `applyPresence`). */
  presence: PresenceView;
  connected: boolean;
}

/**
 * Follows a project's channel with the shared `ResumingSubscriber` (PROTOCOL.md §8): `hello
 * {lastSeq}` after every `ready`, events through the project reducer, `hello` again on a seq gap
 * only (a reducer error is a bug and surfaces), snapshots taken whole.
 */
export function useProjectChannel(projectId: string, enabled = true): ProjectChannel {
  const [channel, setChannel] = useState<ProjectChannel>(() => ({
    state: createProjectState(projectId),
    presence: NO_PRESENCE,
    connected: false,
  }));

  useEffect(() => {
    if (!enabled) return;
    const protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${protocol}//${window.location.host}/api/projects/${encodeURIComponent(projectId)}/ws`;
    const socket = new ReconnectingSocket(() => url);
    const resume = new ResumeLink(
      new ResumingSubscriber(createProjectState(projectId), applyProjectEvent),
      (frame) => socket.send(JSON.stringify(frame)),
    );
    socket.addEventListener('open', () => resume.disconnected());
    socket.addEventListener('close', () => {
      resume.disconnected();
      setChannel((c) => ({ ...c, connected: false }));
    });
    socket.addEventListener('message', (event) => {
      const parsed = parseFrame(projectServerFrame, String(event.data));
      if (!parsed.ok) return; // a frame from a newer server: ignore rather than break the page
      const frame = parsed.frame;
      if (frame.type === 'presence' || frame.type === 'presence-diff') {
        setChannel((c) => ({ ...c, presence: applyPresence(c.presence, frame) }));
      }
      const step = resume.receive(frame);
      if (step.incompatible) {
        console.warn(`kiln: project channel closed: ${step.incompatible}`);
        socket.close();
      } else if (frame.type === 'ready') setChannel((c) => ({ ...c, connected: true }));
      if (step.changed) setChannel((c) => ({ ...c, state: step.state }));
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
      resume.stop();
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
