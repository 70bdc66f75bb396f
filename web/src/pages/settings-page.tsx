import { useEffect, useState } from 'react';
import { NewTokenForm, RevokeButton, type TokenApi, useTokens } from '../components/token-manager';
import {
  createToken,
  fetchMe,
  fetchTokens,
  type Me,
  revokeToken,
  type TokenSummary,
} from '../lib/api';
import { formatTime } from '../lib/format';

const PERSONAL_TOKENS: TokenApi<TokenSummary> = {
  load: fetchTokens,
  create: createToken,
  revoke: (token) => revokeToken(token.id),
  revokeWarning: 'Scripts using it stop working.',
};

/** `/settings`: the profile and personal access tokens (for the CLI and scripts). */
export function SettingsPage() {
  const [me, setMe] = useState<Me | null>(null);
  const [meError, setMeError] = useState<string | null>(null);
  const tokens = useTokens(PERSONAL_TOKENS);
  const error = meError ?? tokens.error;

  useEffect(() => {
    const abort = new AbortController();
    fetchMe(abort.signal).then(setMe, (caught: unknown) => {
      if (!abort.signal.aborted) setMeError(caught instanceof Error ? caught.message : 'Failed');
    });
    return () => abort.abort();
  }, []);

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
        {tokens.items?.length === 0 && <p className="muted empty">No tokens yet.</p>}
        {tokens.items && tokens.items.length > 0 && (
          <ul className="token-list" data-testid="token-list">
            {tokens.items.map((t) => (
              <li key={t.id}>
                <span>
                  <strong>{t.name}</strong>{' '}
                  <span className="muted">
                    created {formatTime(t.createdAt)}
                    {t.lastUsedAt ? ` · last used ${formatTime(t.lastUsedAt)}` : ' · never used'}
                  </span>
                </span>
                <RevokeButton name={t.name} onRevoke={() => tokens.revoke(t)} />
              </li>
            ))}
          </ul>
        )}
        <NewTokenForm
          label="Token name"
          placeholder="ci"
          secret={tokens.secret}
          onCreate={tokens.create}
          onDismissSecret={tokens.dismissSecret}
        />
      </section>
    </div>
  );
}
