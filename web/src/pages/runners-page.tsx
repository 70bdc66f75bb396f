import type { RunnerInfo } from '@kiln/protocol';
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { SecretOnce } from '../components/secret-once';
import { createRunnerToken, fetchRunners, revokeRunner } from '../lib/api';
import { formatTime } from '../lib/format';

/**
 * `/runners`: the account's runners with live status (connected, version, agents, capacity,
 * active builds, last seen), refreshed every 5 s; runner tokens are created (shown once) and revoked.
 */
export function RunnersPage() {
  const [runners, setRunners] = useState<RunnerInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<string | null>(null);

  const refresh = useCallback(async (signal?: AbortSignal) => {
    try {
      setRunners(await fetchRunners(signal));
      setError(null);
    } catch (caught) {
      if (!signal?.aborted) setError(caught instanceof Error ? caught.message : 'Failed');
    }
  }, []);

  useEffect(() => {
    const abort = new AbortController();
    void refresh(abort.signal);
    const timer = setInterval(() => void refresh(abort.signal), 5000);
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [refresh]);

  async function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!name.trim()) return;
    try {
      const created = await createRunnerToken(name.trim());
      setSecret(created.token);
      setName('');
      await refresh();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Could not create the token');
    }
  }

  async function onRevoke(runner: RunnerInfo) {
    if (!window.confirm(`Revoke “${runner.name}”? The runner is disconnected at once.`)) return;
    try {
      await revokeRunner(runner.runnerId);
      await refresh();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : 'Could not revoke');
    }
  }

  return (
    <div className="home">
      <section className="hero">
        <h1>Runners</h1>
        <p className="lead">
          Runners run the agents on your machines. Start one with{' '}
          <code>pnpm kiln runner --server {window.location.origin} --token kiln_rt_…</code>
        </p>
      </section>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      <section className="card">
        <h2>Your runners</h2>
        {runners === null && !error && <p className="muted">Loading…</p>}
        {runners?.length === 0 && (
          <div className="empty-state">
            <p>No runner tokens yet.</p>
            <p className="muted">
              Sessions use the shared runner until you connect your own. Create a token below.
            </p>
          </div>
        )}
        {runners && runners.length > 0 && (
          <div className="table-wrap">
            <table className="table" data-testid="runner-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col">Version</th>
                  <th scope="col">Agents</th>
                  <th scope="col">Builds</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {runners.map((r) => (
                  <tr key={r.runnerId} data-testid="runner-row">
                    <td>{r.name}</td>
                    <td>
                      <span className={`badge ${r.connected ? 'badge-active' : 'badge-idle'}`}>
                        {r.connected ? 'connected' : 'offline'}
                      </span>
                    </td>
                    <td>{r.version ?? '—'}</td>
                    <td>{r.agents.join(', ') || '—'}</td>
                    <td>{r.connected ? `${r.activeBuilds.length} / ${r.capacity}` : '—'}</td>
                    <td>{r.lastSeenAt ? formatTime(r.lastSeenAt) : 'never'}</td>
                    <td>
                      <button
                        type="button"
                        className="button button-small button-danger"
                        onClick={() => onRevoke(r)}
                        aria-label={`Revoke ${r.name}`}
                      >
                        Revoke
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section className="card">
        <h2>New runner token</h2>
        {secret && <SecretOnce secret={secret} onDone={() => setSecret(null)} />}
        <form className="inline-form" onSubmit={onCreate}>
          <label className="field">
            <span>Runner name</span>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="my-laptop" />
          </label>
          <button type="submit" className="button button-primary" disabled={!name.trim()}>
            Create token
          </button>
        </form>
      </section>
    </div>
  );
}
