import type { RunnerInfo } from '@kiln/protocol';
import { NewTokenForm, RevokeButton, type TokenApi, useTokens } from '../components/token-manager';
import { createRunnerToken, fetchRunners, revokeRunner } from '../lib/api';
import { formatTime } from '../lib/format';

const RUNNER_TOKENS: TokenApi<RunnerInfo> = {
  load: fetchRunners,
  create: createRunnerToken,
  revoke: (runner) => revokeRunner(runner.runnerId),
  revokeWarning: 'The runner is disconnected at once.',
  refreshEveryMs: 5000,
};

/**
 * `/runners`: the account's runners with live status (connected, version, agents, capacity,
 * active builds, last seen), refreshed every 5 s; runner tokens are created (shown once) and revoked.
 */
export function RunnersPage() {
  const tokens = useTokens(RUNNER_TOKENS);
  const { items: runners, error } = tokens;

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
                      <RevokeButton name={r.name} onRevoke={() => tokens.revoke(r)} />
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
        <NewTokenForm
          label="Runner name"
          placeholder="my-laptop"
          secret={tokens.secret}
          onCreate={tokens.create}
          onDismissSecret={tokens.dismissSecret}
        />
      </section>
    </div>
  );
}
