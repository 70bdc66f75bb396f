import { type AppVersion, deploymentSlug, type ProjectDeployment } from '@kiln/protocol';
import { useEffect, useId, useRef, useState } from 'react';
import { fetchDeployment, fetchVersions, publishVersion, unpublish } from '../lib/deployments-api';
import { formatTime } from '../lib/format';

function messageOf(caught: unknown, fallback: string): string {
  return caught instanceof Error && caught.message ? caught.message : fallback;
}

/** 12345 → "12.1 KB". */
function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * The project's deployments (PROTOCOL.md §10): its stored versions (one per successful turn that
 * built `dist/`, newest first, each with its preview link) and the live deployment at
 * `<APPS_ORIGIN>/<slug>/`. Owners and editors publish any version — a newer one, or an earlier
 * one to roll back — at a slug (checked here with the protocol's rule, unique across Kiln: the
 * API's 409 is shown), and unpublish; viewers see the same list without the controls.
 *
 * `live` is the project channel's deployment: every change it reports (`deployment-updated`,
 * from any tab) replaces the one shown. `versionsKey` changes when a version may have been added
 * (a session's turn ended); the versions are then reloaded.
 */
export function DeploymentsPanel({
  projectId,
  canPublish,
  live,
  versionsKey,
}: {
  projectId: string;
  canPublish: boolean;
  live: ProjectDeployment | null;
  versionsKey: string;
}) {
  const [versions, setVersions] = useState<AppVersion[] | null>(null);
  const [deployment, setDeployment] = useState<ProjectDeployment | null>(null);
  const [slug, setSlug] = useState('');
  const [slugError, setSlugError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const slugId = useId();

  // A `deployment-updated` seen on the channel (the initial null is not news).
  const seenLive = useRef(live);
  const channelSpoke = useRef(false);
  useEffect(() => {
    if (live === seenLive.current) return;
    seenLive.current = live;
    channelSpoke.current = true;
    setDeployment(live);
    if (live) setSlug((s) => s || live.slug);
  }, [live]);

  // The deployment once, over HTTP, unless the channel has already said something newer.
  useEffect(() => {
    const abort = new AbortController();
    fetchDeployment(projectId, abort.signal).then(
      (body) => {
        if (channelSpoke.current) return;
        setDeployment(body.deployment);
        if (body.deployment) setSlug((s) => s || body.deployment!.slug);
      },
      (caught: unknown) => {
        if (!abort.signal.aborted) setError(messageOf(caught, 'Could not load the deployment'));
      },
    );
    return () => abort.abort();
  }, [projectId]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: versionsKey is the reload signal
  useEffect(() => {
    const abort = new AbortController();
    fetchVersions(projectId, abort.signal).then(setVersions, (caught: unknown) => {
      if (!abort.signal.aborted) setError(messageOf(caught, 'Could not load the versions'));
    });
    return () => abort.abort();
  }, [projectId, versionsKey]);

  const newest = versions?.[0];

  async function act(action: () => Promise<void>, fallback: string) {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (caught) {
      setError(messageOf(caught, fallback));
    } finally {
      setBusy(false);
    }
  }

  function onPublish(version: number) {
    const checked = deploymentSlug.safeParse(slug.trim());
    if (!checked.success) {
      setSlugError(checked.error.issues[0]?.message ?? 'not a valid slug');
      return;
    }
    setSlugError(null);
    void act(async () => {
      setDeployment(await publishVersion(projectId, checked.data, version));
    }, 'Could not publish');
  }

  function onUnpublish() {
    if (!deployment) return;
    if (!window.confirm(`Unpublish ${deployment.url}? It stops serving the app.`)) return;
    void act(async () => {
      await unpublish(projectId);
      setDeployment(null);
    }, 'Could not unpublish');
  }

  return (
    <section className="card" aria-labelledby="deployments-title" data-testid="deployments">
      <div className="card-header">
        <h2 id="deployments-title">Deployments</h2>
      </div>
      <div className="deployment-live" data-testid="deployment-live">
        {deployment ? (
          <>
            <p>
              Version {deployment.version} is live at{' '}
              <a href={deployment.url} target="_blank" rel="noopener noreferrer">
                {deployment.url}
              </a>
            </p>
            <p className="muted">Published {formatTime(deployment.publishedAt)}</p>
          </>
        ) : (
          <p className="muted">Not published.</p>
        )}
        {canPublish && deployment && (
          <button
            type="button"
            className="button button-small button-danger"
            onClick={onUnpublish}
            disabled={busy}
          >
            Unpublish
          </button>
        )}
      </div>
      {canPublish && newest && (
        <div className="field">
          <label htmlFor={slugId}>Slug</label>
          <input
            id={slugId}
            value={slug}
            onChange={(e) => {
              setSlug(e.target.value);
              setSlugError(null);
            }}
            placeholder="my-bakery"
            maxLength={40}
            aria-invalid={slugError !== null}
            aria-describedby={`${slugId}-hint`}
            disabled={busy}
          />
          <span id={`${slugId}-hint`} className="muted">
            Published at {new URL(newest.url).origin}/{slug.trim() || '<slug>'}/
          </span>
        </div>
      )}
      {slugError && (
        <p className="form-error" role="alert">
          {slugError}
        </p>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {versions === null ? (
        <p className="muted">Loading versions…</p>
      ) : versions.length === 0 ? (
        <p className="muted">
          No versions yet. Each turn that builds <code>dist/</code> stores one.
        </p>
      ) : (
        <ol className="version-list" data-testid="version-list">
          {versions.map((v) => (
            <VersionRow
              key={v.version}
              version={v}
              live={deployment?.version ?? null}
              slugChanged={deployment !== null && deployment.slug !== slug.trim()}
              canPublish={canPublish}
              busy={busy}
              onPublish={() => onPublish(v.version)}
            />
          ))}
        </ol>
      )}
      {!canPublish && <p className="muted">Owners and editors publish.</p>}
    </section>
  );
}

/**
 * One version: its number, size and time, its preview, and publish / roll back (the live one
 * only when the slug was changed: publishing it again moves it there).
 */
function VersionRow({
  version: v,
  live,
  slugChanged,
  canPublish,
  busy,
  onPublish,
}: {
  version: AppVersion;
  /** The live deployment's version, or null when unpublished. */
  live: number | null;
  slugChanged: boolean;
  canPublish: boolean;
  busy: boolean;
  onPublish(): void;
}) {
  const isLive = live === v.version;
  const action = live !== null && v.version < live ? 'Roll back to' : 'Publish';
  return (
    <li className="version-item" data-testid="version-item" data-version={v.version}>
      <span className="version-who">
        <span className="session-title">Version {v.version}</span>
        <span className="session-meta muted">
          {v.files} files · {formatBytes(v.bytes)} · {formatTime(v.createdAt)}
        </span>
      </span>
      <span className="session-actions">
        {isLive && <span className="badge badge-completed">live</span>}
        <a
          className="button button-small button-ghost"
          href={v.url}
          target="_blank"
          rel="noopener noreferrer"
          aria-label={`Preview version ${v.version}`}
        >
          Preview ↗
        </a>
        {canPublish && (!isLive || slugChanged) && (
          <button
            type="button"
            className="button button-small"
            onClick={onPublish}
            disabled={busy}
            aria-label={`${action} version ${v.version}`}
          >
            {action}
          </button>
        )}
      </span>
    </li>
  );
}
