import type { PermissionMode, ProjectSession, ProjectSummary } from '@kiln/protocol';
import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { Avatars } from '../components/avatars';
import { DeploymentsPanel } from '../components/deployments-panel';
import { ImportDrop } from '../components/import-drop';
import {
  DEFAULT_PERMISSION_MODE,
  PermissionModeSelect,
} from '../components/permission-mode-select';
import { ProjectSettings } from '../components/project-settings';
import {
  deleteSession,
  fetchProject,
  fetchProjectSessions,
  sendMessage,
  updateSession,
} from '../lib/api';
import { formatTime, formatTokens } from '../lib/format';
import { submitOnEnter } from '../lib/submit-on-enter';
import { mergeSessions, useProjectChannel } from '../lib/use-project-channel';

/**
 * `/projects/:projectId`: the project's sessions in order, live from the project channel, and a
 * composer that starts a new session (the session id and message id are made here, so a retried
 * send is the same message).
 */
export function ProjectPage() {
  const { projectId = '' } = useParams();
  const [project, setProject] = useState<ProjectSummary | null>(null);
  const [loaded, setLoaded] = useState<ProjectSession[]>([]);
  const [error, setError] = useState<string | null>(null);
  const channel = useProjectChannel(projectId);

  useEffect(() => {
    const abort = new AbortController();
    Promise.all([
      fetchProject(projectId, abort.signal),
      fetchProjectSessions(projectId, abort.signal),
    ]).then(
      ([p, s]) => {
        setProject(p);
        setLoaded(s);
      },
      (caught: unknown) => {
        if (!abort.signal.aborted) setError(caught instanceof Error ? caught.message : 'Failed');
      },
    );
    return () => abort.abort();
  }, [projectId]);

  const deleted = useMemo(() => new Set<string>(), []);
  const [query, setQuery] = useState('');
  const all = mergeSessions(loaded, channel.state, deleted);
  const needle = query.trim().toLowerCase();
  const sessions = needle
    ? all.filter((s) => `${s.title} ${s.firstMessagePreview ?? ''}`.toLowerCase().includes(needle))
    : all;
  const canWrite = project !== null && project.role !== 'viewer';
  // A turn that ends may have stored a version: the deployments list reloads on status changes.
  const versionsKey = all.map((s) => `${s.sessionId}:${s.status}`).join(' ');
  const name = channel.state.name ?? project?.name ?? 'Project';
  const [settingsOpen, setSettingsOpen] = useState(false);
  const settingsButton = useRef<HTMLButtonElement>(null);
  const closeSettings = () => {
    setSettingsOpen(false);
    settingsButton.current?.focus();
  };

  return (
    <div className="home">
      <section className="hero">
        <h1 data-testid="project-name">{name}</h1>
        <div className="hero-meta">
          <span className="muted">
            {channel.connected ? 'Live' : 'Connecting…'}
            {project
              ? ` · you are ${project.role === 'viewer' ? 'a viewer' : `an ${project.role}`}`
              : ''}
          </span>
          <Avatars presence={channel.presence} label="Also in this project" />
          {project && (
            <button
              ref={settingsButton}
              type="button"
              className="button button-small"
              aria-expanded={settingsOpen}
              aria-controls="project-settings"
              onClick={() => (settingsOpen ? closeSettings() : setSettingsOpen(true))}
            >
              {project.role === 'viewer' ? 'Members' : 'Project settings'}
            </button>
          )}
        </div>
      </section>
      {project && settingsOpen && (
        <section
          id="project-settings"
          className="card"
          aria-labelledby="project-settings-title"
          onKeyDown={(e) => {
            if (e.key === 'Escape') closeSettings();
          }}
        >
          <div className="card-header">
            <h2 id="project-settings-title">
              {project.role === 'viewer' ? 'Members' : 'Project settings'}
            </h2>
            <button
              type="button"
              className="button button-small button-ghost"
              onClick={closeSettings}
            >
              Close
            </button>
          </div>
          <ProjectSettings
            project={project}
            name={name}
            onRenamed={(renamed) => setProject({ ...project, name: renamed })}
          />
        </section>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {canWrite && <NewSessionComposer projectId={projectId} />}
      {canWrite && <ImportDrop projectId={projectId} />}
      <section className="card">
        <div className="card-header">
          <h2>Sessions</h2>
          {all.length > 0 && (
            <input
              type="search"
              className="search"
              placeholder="Search sessions"
              aria-label="Search sessions"
              value={query}
              onChange={(e) => setQuery(e.target.value)}
            />
          )}
        </div>
        {all.length === 0 && (
          <div className="empty-state">
            <p>No sessions yet.</p>
            <p className="muted">
              {canWrite
                ? 'Describe what to build above; a runner picks it up and you watch it happen.'
                : 'When an editor starts one, it appears here live.'}
            </p>
          </div>
        )}
        {all.length > 0 && sessions.length === 0 && (
          <p className="muted empty">No session matches “{query}”.</p>
        )}
        <ol className="session-list" data-testid="session-list">
          {sessions.map((s) => (
            <li key={s.sessionId} data-testid="session-item" data-session-id={s.sessionId}>
              <Link to={`/projects/${projectId}/s/${s.sessionId}`} className="session-link">
                <span className="session-title">
                  {s.title || s.firstMessagePreview || 'Untitled session'}
                </span>
                <span className="session-meta muted">
                  {s.agent}
                  {s.model ? ` · ${s.model}` : ''} · {s.messageCount} messages
                  {s.totalTokens > 0 ? ` · ${formatTokens(s.totalTokens)} tokens` : ''} ·{' '}
                  {formatTime(s.lastMessageAt ?? s.createdAt)}
                </span>
              </Link>
              <span className="session-actions">
                <span className={`badge badge-${s.status}`} data-testid="session-item-status">
                  {s.status}
                </span>
                {canWrite && (
                  <SessionMenu
                    projectId={projectId}
                    session={s}
                    onChanged={(changes) =>
                      setLoaded((list) =>
                        list.map((x) => (x.sessionId === s.sessionId ? { ...x, ...changes } : x)),
                      )
                    }
                    onDeleted={() => {
                      deleted.add(s.sessionId);
                      setLoaded((list) => list.filter((x) => x.sessionId !== s.sessionId));
                    }}
                    onError={setError}
                  />
                )}
              </span>
            </li>
          ))}
        </ol>
      </section>
      {project && (
        <DeploymentsPanel
          projectId={projectId}
          canPublish={canWrite}
          live={channel.state.deployment}
          versionsKey={versionsKey}
        />
      )}
    </div>
  );
}

/**
 * A session row's actions (owner, editor): rename, archive (hidden from the list, kept) and delete
 * (its build is cancelled and its log deleted). A native disclosure, so it is keyboard usable.
 */
function SessionMenu({
  projectId,
  session,
  onChanged,
  onDeleted,
  onError,
}: {
  projectId: string;
  session: ProjectSession;
  onChanged(changes: Partial<ProjectSession>): void;
  onDeleted(): void;
  onError(message: string | null): void;
}) {
  const label = session.title || session.firstMessagePreview || 'Untitled session';
  const [busy, setBusy] = useState(false);

  async function run(action: () => Promise<void>, fallback: string) {
    setBusy(true);
    onError(null);
    try {
      await action();
    } catch (caught) {
      onError(caught instanceof Error ? caught.message : fallback);
    } finally {
      setBusy(false);
    }
  }

  function onRename() {
    const title = window.prompt('New title for this session', session.title)?.trim();
    if (!title || title === session.title) return;
    void run(async () => {
      await updateSession(projectId, session.sessionId, { title });
      onChanged({ title });
    }, 'Could not rename the session');
  }

  function onArchive() {
    void run(async () => {
      await updateSession(projectId, session.sessionId, { archived: true });
      onChanged({ archived: true });
    }, 'Could not archive the session');
  }

  function onDelete() {
    if (!window.confirm(`Delete “${label}”? Its log and build are deleted for good.`)) return;
    void run(async () => {
      await deleteSession(projectId, session.sessionId);
      onDeleted();
    }, 'Could not delete the session');
  }

  return (
    <details className="session-menu">
      <summary className="button button-small button-ghost" aria-label={`Actions for ${label}`}>
        ⋯
      </summary>
      <div className="session-menu-items">
        <button type="button" className="button button-small" onClick={onRename} disabled={busy}>
          Rename
        </button>
        <button type="button" className="button button-small" onClick={onArchive} disabled={busy}>
          Archive
        </button>
        <button
          type="button"
          className="button button-small button-danger"
          onClick={onDelete}
          disabled={busy}
        >
          Delete
        </button>
      </div>
    </details>
  );
}

/** Starts a session: a prompt, the agent, its model and the turn's permission mode. */
export function NewSessionComposer({ projectId }: { projectId: string }) {
  const [text, setText] = useState('');
  const [agent, setAgent] = useState('demo');
  const [model, setModel] = useState('');
  const [permissionMode, setPermissionMode] = useState<PermissionMode>(DEFAULT_PERMISSION_MODE);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const navigate = useNavigate();

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    setError(null);
    const sessionId = crypto.randomUUID();
    const clientMessageId = crypto.randomUUID();
    try {
      await sendMessage(projectId, sessionId, {
        clientMessageId,
        text: text.trim(),
        agent,
        model,
        permissionMode,
      });
      void navigate(`/projects/${projectId}/s/${sessionId}`);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Could not send');
      setBusy(false);
    }
  }

  return (
    <form className="card composer" onSubmit={onSubmit}>
      <h2>New session</h2>
      <label className="field">
        <span>Prompt</span>
        <textarea
          data-testid="composer-text"
          rows={3}
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Build a landing page for a bakery"
          onKeyDown={submitOnEnter}
          disabled={busy}
        />
      </label>
      <div className="inline-form">
        <label className="field">
          <span>Agent</span>
          <select value={agent} onChange={(e) => setAgent(e.target.value)} disabled={busy}>
            <option value="demo">demo (offline)</option>
            <option value="ai-sdk">ai-sdk</option>
            <option value="claude-code">claude-code</option>
            <option value="codex">codex</option>
          </select>
        </label>
        <label className="field">
          <span>Model</span>
          <input
            value={model}
            onChange={(e) => setModel(e.target.value)}
            placeholder="default"
            disabled={busy}
          />
        </label>
        <label className="field" htmlFor="new-session-permission-mode">
          <span>Permission mode</span>
          <PermissionModeSelect
            id="new-session-permission-mode"
            value={permissionMode}
            onChange={setPermissionMode}
            disabled={busy}
          />
        </label>
        <button type="submit" className="button button-primary" disabled={busy || !text.trim()}>
          {busy ? 'Starting…' : 'Start session'}
        </button>
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
