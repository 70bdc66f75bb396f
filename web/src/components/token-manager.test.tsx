import type { RunnerInfo } from '@kiln/protocol';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TokenSummary } from '../lib/api';
import { RunnersPage } from '../pages/runners-page';
import { SettingsPage } from '../pages/settings-page';

afterEach(() => {
  vi.unstubAllGlobals();
});

type Handler = (init: RequestInit | undefined) => Response;

/** A fetch stub answering `routes[METHOD path]`, 404 otherwise; it records every call. */
function stubFetch(routes: Record<string, Handler>) {
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    const key = `${init?.method ?? 'GET'} ${url}`;
    const handler = routes[key];
    if (handler) return handler(init);
    return Response.json(
      { error: { code: 'not-found', message: `no route ${key}` } },
      { status: 404 },
    );
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

const calls = (fetch: ReturnType<typeof stubFetch>, key: string) =>
  fetch.mock.calls.filter(([url, init]) => `${init?.method ?? 'GET'} ${url}` === key);

describe('personal access tokens (settings page)', () => {
  function stubTokens() {
    let tokens: TokenSummary[] = [{ id: 't1', name: 'ci', createdAt: 1, lastUsedAt: null }];
    return stubFetch({
      'GET /api/me': () =>
        Response.json({ user: { id: 'u1', email: 'me@example.com', name: 'Me' } }),
      'GET /api/tokens': () => Response.json({ tokens }),
      'POST /api/tokens': (init) => {
        const { name } = JSON.parse(String(init?.body)) as { name: string };
        const created = { id: 't2', name, createdAt: 2, lastUsedAt: null };
        tokens = [...tokens, created];
        return Response.json({ ...created, token: 'kiln_pat_secret' }, { status: 201 });
      },
      'DELETE /api/tokens/t1': () => {
        tokens = tokens.filter((t) => t.id !== 't1');
        return new Response(null, { status: 204 });
      },
    });
  }

  it('creates a named token, shows its secret once and lists it', async () => {
    const fetch = stubTokens();
    const user = userEvent.setup();
    render(<SettingsPage />);
    expect(await within(await screen.findByTestId('token-list')).findByText('ci')).toBeTruthy();

    await user.type(screen.getByLabelText('Token name'), '  laptop ');
    await user.click(screen.getByRole('button', { name: 'Create token' }));

    expect((await screen.findByTestId('secret-value')).textContent).toBe('kiln_pat_secret');
    expect(calls(fetch, 'POST /api/tokens').map(([, init]) => init?.body)).toEqual([
      JSON.stringify({ name: 'laptop' }),
    ]);
    expect(await within(screen.getByTestId('token-list')).findByText('laptop')).toBeTruthy();
    expect((screen.getByLabelText('Token name') as HTMLInputElement).value).toBe('');

    await user.click(screen.getByRole('button', { name: 'Done' }));
    expect(screen.queryByTestId('secret-value')).toBeNull();
  });

  it('revokes only after confirmation, then reloads the list', async () => {
    const fetch = stubTokens();
    const user = userEvent.setup();
    const confirm = vi.fn(() => false);
    vi.stubGlobal('confirm', confirm);
    render(<SettingsPage />);
    const revoke = await screen.findByRole('button', { name: 'Revoke ci' });

    await user.click(revoke);
    expect(confirm).toHaveBeenCalledWith('Revoke “ci”? Scripts using it stop working.');
    expect(calls(fetch, 'DELETE /api/tokens/t1')).toHaveLength(0);

    confirm.mockReturnValue(true);
    await user.click(revoke);
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Revoke ci' })).toBeNull());
    expect(calls(fetch, 'DELETE /api/tokens/t1')).toHaveLength(1);
    expect(screen.getByText('No tokens yet.')).toBeTruthy();
  });

  it('shows why a create failed and keeps the name typed', async () => {
    stubFetch({
      'GET /api/me': () =>
        Response.json({ user: { id: 'u1', email: 'me@example.com', name: 'Me' } }),
      'GET /api/tokens': () => Response.json({ tokens: [] }),
      'POST /api/tokens': () =>
        Response.json(
          { error: { code: 'bad-request', message: 'name: too long' } },
          { status: 400 },
        ),
    });
    const user = userEvent.setup();
    render(<SettingsPage />);
    await screen.findByText('No tokens yet.');

    await user.type(screen.getByLabelText('Token name'), 'x');
    await user.click(screen.getByRole('button', { name: 'Create token' }));

    expect((await screen.findByRole('alert')).textContent).toBe('name: too long');
    expect((screen.getByLabelText('Token name') as HTMLInputElement).value).toBe('x');
    expect(screen.queryByTestId('secret-value')).toBeNull();
  });
});

describe('runner tokens (runners page)', () => {
  const RUNNER: RunnerInfo = {
    runnerId: 'r1',
    name: 'laptop',
    connected: true,
    version: '1.0.0',
    agents: ['demo'],
    capacity: 2,
    activeBuilds: ['b1'],
    lastSeenAt: 1,
    createdAt: 1,
  };

  it('lists runners, creates a runner token and revokes a runner by its id', async () => {
    let runners: RunnerInfo[] = [RUNNER];
    const fetch = stubFetch({
      'GET /api/runners': () => Response.json({ runners }),
      'POST /api/runners': (init) => {
        const { name } = JSON.parse(String(init?.body)) as { name: string };
        runners = [...runners, { ...RUNNER, runnerId: 'r2', name, connected: false }];
        return Response.json(
          { runnerId: 'r2', name, createdAt: 2, token: 'kiln_rt_secret' },
          { status: 201 },
        );
      },
      'DELETE /api/runners/r1': () => {
        runners = runners.filter((r) => r.runnerId !== 'r1');
        return new Response(null, { status: 204 });
      },
    });
    const confirm = vi.fn(() => true);
    vi.stubGlobal('confirm', confirm);
    const user = userEvent.setup();
    render(<RunnersPage />);
    const table = await screen.findByTestId('runner-table');
    expect(within(table).getByText('1 / 2')).toBeTruthy();

    await user.type(screen.getByLabelText('Runner name'), 'ci box');
    await user.click(screen.getByRole('button', { name: 'Create token' }));
    expect((await screen.findByTestId('secret-value')).textContent).toBe('kiln_rt_secret');
    expect(await screen.findByText('ci box')).toBeTruthy();

    await user.click(screen.getByRole('button', { name: 'Revoke laptop' }));
    expect(confirm).toHaveBeenCalledWith('Revoke “laptop”? The runner is disconnected at once.');
    await waitFor(() => expect(screen.queryByText('laptop')).toBeNull());
    expect(calls(fetch, 'DELETE /api/runners/r1')).toHaveLength(1);
  });
});
