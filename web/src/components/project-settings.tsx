import type { ProjectMember, ProjectRole, ProjectSummary } from '@kiln/protocol';
import { type FormEvent, useEffect, useId, useState } from 'react';
import { useNavigate } from 'react-router';
import {
  deleteProject,
  fetchMe,
  fetchProjectMembers,
  putProjectMember,
  removeProjectMember,
  renameProject,
} from '../lib/api';

const ROLES: ProjectRole[] = ['owner', 'editor', 'viewer'];

function messageOf(caught: unknown, fallback: string): string {
  return caught instanceof Error && caught.message ? caught.message : fallback;
}

/**
 * The project's settings (PROTOCOL.md §8 routes): rename (owner, editor), members (listed for
 * everyone; added, re-roled and removed by owners) and deletion (owner, confirmed by typing the
 * name). Every failure shows the API's own message.
 */
export function ProjectSettings({
  project,
  name,
  onRenamed,
}: {
  project: ProjectSummary;
  /** The current name (the channel's, when it has one). */
  name: string;
  onRenamed(name: string): void;
}) {
  const isOwner = project.role === 'owner';
  const canWrite = project.role !== 'viewer';
  return (
    <>
      {canWrite && <RenameForm projectId={project.id} name={name} onRenamed={onRenamed} />}
      <MembersSection projectId={project.id} isOwner={isOwner} />
      {isOwner && <DeleteProject projectId={project.id} name={name} />}
    </>
  );
}

function RenameForm({
  projectId,
  name,
  onRenamed,
}: {
  projectId: string;
  name: string;
  onRenamed(name: string): void;
}) {
  const [value, setValue] = useState(name);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const trimmed = value.trim();

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!trimmed || trimmed === name) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await renameProject(projectId, trimmed);
      onRenamed(trimmed);
      setSaved(true);
    } catch (caught) {
      setError(messageOf(caught, 'Could not rename the project'));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="settings-block" onSubmit={onSubmit} aria-label="Rename project">
      <h3>Name</h3>
      <div className="inline-form">
        <label className="field">
          <span>Project name</span>
          <input
            value={value}
            maxLength={100}
            onChange={(e) => {
              setValue(e.target.value);
              setSaved(false);
            }}
            disabled={busy}
          />
        </label>
        <button
          type="submit"
          className="button button-primary"
          disabled={busy || !trimmed || trimmed === name}
        >
          {busy ? 'Saving…' : 'Rename'}
        </button>
      </div>
      {saved && (
        <p className="muted" role="status">
          Renamed.
        </p>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function MembersSection({ projectId, isOwner }: { projectId: string; isOwner: boolean }) {
  const [members, setMembers] = useState<ProjectMember[] | null>(null);
  const [meId, setMeId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<ProjectRole>('editor');
  const [busy, setBusy] = useState(false);
  const roleId = useId();

  useEffect(() => {
    const abort = new AbortController();
    fetchProjectMembers(projectId, abort.signal).then(setMembers, (caught: unknown) => {
      if (!abort.signal.aborted) setError(messageOf(caught, 'Could not load the members'));
    });
    if (isOwner) {
      // Only to keep an owner from offering to change or remove themself (the API refuses it).
      fetchMe(abort.signal).then(
        (me) => setMeId(me.id),
        () => {},
      );
    }
    return () => abort.abort();
  }, [projectId, isOwner]);

  function upsert(member: ProjectMember) {
    setMembers((list) => {
      const current = list ?? [];
      return current.some((m) => m.userId === member.userId)
        ? current.map((m) => (m.userId === member.userId ? member : m))
        : [...current, member];
    });
  }

  async function onAdd(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const address = email.trim();
    if (!address) return;
    setBusy(true);
    setError(null);
    try {
      upsert(await putProjectMember(projectId, address, role));
      setEmail('');
    } catch (caught) {
      setError(messageOf(caught, 'Could not add the member'));
    } finally {
      setBusy(false);
    }
  }

  async function onChangeRole(member: ProjectMember, next: ProjectRole) {
    setError(null);
    try {
      upsert(await putProjectMember(projectId, member.email, next));
    } catch (caught) {
      setError(messageOf(caught, 'Could not change the role'));
    }
  }

  async function onRemove(member: ProjectMember) {
    if (!window.confirm(`Remove ${member.email} from this project?`)) return;
    setError(null);
    try {
      await removeProjectMember(projectId, member.userId);
      setMembers((list) => (list ?? []).filter((m) => m.userId !== member.userId));
    } catch (caught) {
      setError(messageOf(caught, 'Could not remove the member'));
    }
  }

  return (
    <section className="settings-block" aria-labelledby={`${roleId}-members`}>
      <h3 id={`${roleId}-members`}>Members</h3>
      {members === null && !error && <p className="muted">Loading…</p>}
      {members && (
        <ul className="member-list" data-testid="member-list">
          {members.map((m) => {
            const editable = isOwner && m.userId !== meId;
            return (
              <li key={m.userId} className="member-item" data-testid="member-item">
                <span className="member-who">
                  <strong>{m.name || m.email}</strong>
                  {m.name && <span className="muted"> {m.email}</span>}
                  {m.userId === meId && <span className="muted"> (you)</span>}
                </span>
                {editable ? (
                  <span className="member-actions">
                    <select
                      aria-label={`Role of ${m.email}`}
                      value={m.role}
                      onChange={(e) => {
                        const next = ROLES.find((r) => r === e.target.value);
                        if (next && next !== m.role) void onChangeRole(m, next);
                      }}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                    <button
                      type="button"
                      className="button button-small button-danger"
                      aria-label={`Remove ${m.email}`}
                      onClick={() => void onRemove(m)}
                    >
                      Remove
                    </button>
                  </span>
                ) : (
                  <span className="tag" data-testid="member-role">
                    {m.role}
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {isOwner && (
        <form className="inline-form" onSubmit={onAdd} aria-label="Add member">
          <label className="field">
            <span>Email</span>
            <input
              type="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              placeholder="someone@example.com"
              disabled={busy}
            />
          </label>
          <label className="field field-narrow" htmlFor={`${roleId}-role`}>
            <span>Role</span>
            <select
              id={`${roleId}-role`}
              value={role}
              onChange={(e) => setRole(ROLES.find((r) => r === e.target.value) ?? role)}
              disabled={busy}
            >
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="button button-primary" disabled={busy || !email.trim()}>
            {busy ? 'Adding…' : 'Add member'}
          </button>
        </form>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function DeleteProject({ projectId, name }: { projectId: string; name: string }) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const navigate = useNavigate();
  const matches = typed === name;

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!matches) return;
    setBusy(true);
    setError(null);
    try {
      await deleteProject(projectId);
      void navigate('/');
    } catch (caught) {
      setError(messageOf(caught, 'Could not delete the project'));
      setBusy(false);
    }
  }

  return (
    <form
      className="settings-block settings-danger"
      onSubmit={onSubmit}
      aria-label="Delete project"
    >
      <h3>Delete project</h3>
      <p className="muted">
        Deletes every session, build and the project's history. This cannot be undone.
      </p>
      <div className="inline-form">
        <label className="field">
          <span>
            Type <strong>{name}</strong> to confirm
          </span>
          <input
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            autoComplete="off"
            disabled={busy}
          />
        </label>
        <button type="submit" className="button button-danger" disabled={busy || !matches}>
          {busy ? 'Deleting…' : 'Delete project'}
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
