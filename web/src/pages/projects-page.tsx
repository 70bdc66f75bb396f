import type { ProjectSummary } from '@kiln/protocol';
import { type FormEvent, useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { createProject, fetchProjects } from '../lib/api';
import { onProjectsChanged } from '../lib/projects-sync';

/**
 * `/`: the person's projects, and a form to create one. The list follows changes made in other
 * tabs and elsewhere without a reload (`lib/projects-sync.ts`).
 */
export function ProjectsPage() {
  const [projects, setProjects] = useState<ProjectSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [query, setQuery] = useState('');
  const needle = query.trim().toLowerCase();
  const shown = projects?.filter((p) => p.name.toLowerCase().includes(needle)) ?? null;
  const navigate = useNavigate();

  useEffect(() => {
    let abort = new AbortController();
    const load = () => {
      abort.abort(); // a newer fetch supersedes one still in flight
      abort = new AbortController();
      const { signal } = abort;
      fetchProjects(signal).then(
        (list) => {
          setProjects(list);
          setError(null);
        },
        (caught: unknown) => {
          if (!signal.aborted) setError(caught instanceof Error ? caught.message : 'Failed');
        },
      );
    };
    load();
    const unsubscribe = onProjectsChanged(load);
    return () => {
      unsubscribe();
      abort.abort();
    };
  }, []);

  async function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    try {
      const project = await createProject(name.trim());
      void navigate(`/projects/${project.id}`);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Could not create the project');
      setBusy(false);
    }
  }

  return (
    <div className="home">
      <section className="hero">
        <h1>Projects</h1>
        <p className="lead">Each project is an ordered list of sessions built by your runners.</p>
      </section>
      <section className="home-grid">
        <article className="card">
          <div className="card-header">
            <h2>Your projects</h2>
            {projects && projects.length > 0 && (
              <input
                type="search"
                className="search"
                placeholder="Search projects"
                aria-label="Search projects"
                value={query}
                onChange={(e) => setQuery(e.target.value)}
              />
            )}
          </div>
          {error && (
            <p className="form-error" role="alert">
              {error}
            </p>
          )}
          {projects === null && !error && <p className="muted">Loading…</p>}
          {projects?.length === 0 && (
            <div className="empty-state">
              <p>No projects yet.</p>
              <p className="muted">Create one to start your first session.</p>
            </div>
          )}
          {projects && projects.length > 0 && shown?.length === 0 && (
            <p className="muted empty">No project matches “{query}”.</p>
          )}
          <ul className="project-list" data-testid="project-list">
            {shown?.map((p) => (
              <li key={p.id}>
                <Link to={`/projects/${p.id}`}>{p.name}</Link> <span className="tag">{p.role}</span>
              </li>
            ))}
          </ul>
        </article>
        <article className="card">
          <h2>New project</h2>
          <form className="inline-form" onSubmit={onCreate}>
            <label className="field">
              <span>Project name</span>
              <input value={name} onChange={(e) => setName(e.target.value)} disabled={busy} />
            </label>
            <button type="submit" className="button button-primary" disabled={busy || !name.trim()}>
              Create project
            </button>
          </form>
        </article>
      </section>
    </div>
  );
}
