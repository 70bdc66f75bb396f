import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { SecretOnce } from '../components/secret-once';
import {
  createToken,
  fetchMe,
  fetchTokens,
  type Me,
  revokeToken,
  type TokenSummary,
} from '../lib/api';
import { formatTime } from '../lib/format';

/** `/settings`: the profile and personal access tokens (for the CLI and scripts). */
export function SettingsPage() {
  const [me, setMe] = useState<Me | null>(null);
  const [tokens, setTokens] = useState<TokenSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<string | null>(null);

  const refresh = useCallback(async (signal?: AbortSignal) => {
    try {
      setTokens(await fetchTokens(signal));
    } catch (caught) {
      if (!signal?.aborted) setError(caught instanceof Error ? caught.message : 'Failed');
    }
  }, []);

  useEffect(() => {
    const abort = new AbortController();
    fetchMe(abort.signal).then(setMe, (caught: unknown) => {
      if (!abort.signal.aborted) setError(caught instanceof Error ? caught.message : 'Failed');
    });
    void refresh(abort.signal);
    return () => abort.abort();
  }, [refresh]);

  async function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!name.trim()) return;
    try {
      const created = await createToken(name.trim());
      setSecret(created.token);
      setName('');
      await refresh();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Could not create the token');
    }
  }

  async function onRevoke(token: TokenSummary) {
    if (!window.confirm(`Revoke “${token.name}”? Scripts using it stop working.`)) return;
    try {
      await revokeToken(token.id);
      await refresh();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Could not revoke');
    }
  }

  return (
    <div className="home">
      <section className="hero">
        <h1>Settings</h1>
      </section>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <section className="card">
        <h2>Profile</h2>
        {me ? (
          <dl className="stats">
            <div className="stat">
              <dt>Name</dt>
              <dd>{me.name || '—'}</dd>
            </div>
            <div className="stat">
              <dt>Email</dt>
              <dd>{me.email}</dd>
            </div>
          </dl>
        ) : (
          <p className="muted">Loading…</p>
        )}
      </section>
      <section className="card">
        <h2>Personal access tokens</h2>
        <p className="muted">
          For the <code>kiln</code> CLI and scripts: <code>Authorization: Bearer kiln_pat_…</code>
        </p>
        {secret && <SecretOnce secret={secret} onDone={() => setSecret(null)} />}
        {tokens?.length === 0 && <p className="muted empty">No tokens yet.</p>}
        {tokens && tokens.length > 0 && (
          <ul className="token-list" data-testid="token-list">
            {tokens.map((t) => (
              <li key={t.id}>
                <span>
                  <strong>{t.name}</strong>{' '}
                  <span className="muted">
                    created {formatTime(t.createdAt)}
                    {t.lastUsedAt ? ` · last used ${formatTime(t.lastUsedAt)}` : ' · never used'}
                  </span>
                </span>
                <button
                  type="button"
                  className="button button-small button-danger"
                  onClick={() => onRevoke(t)}
                  aria-label={`Revoke ${t.name}`}
                >
                  Revoke
                </button>
              </li>
            ))}
          </ul>
        )}
        <form className="inline-form" onSubmit={onCreate}>
          <label className="field">
            <span>Token name</span>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="ci" />
          </label>
          <button type="submit" className="button button-primary" disabled={!name.trim()}>
            Create token
          </button>
        </form>
      </section>
    </div>
  );
}
