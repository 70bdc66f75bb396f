import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { safeNext } from '../lib/use-sign-in-redirect';
import { SignInPage } from './sign-in-page';

function renderAt(path: string) {
  const router = createMemoryRouter(
    [
      { path: '/sign-in', element: <SignInPage /> },
      { path: '/', element: <p>home</p> },
      { path: '/s/:id', element: <p>session page</p> },
    ],
    { initialEntries: [path] },
  );
  render(<RouterProvider router={router} />);
  return router;
}

function stubFetch(status: number, body?: unknown) {
  const fetch = vi.fn(
    async (_url: string, _init?: RequestInit) =>
      new Response(body === undefined ? null : JSON.stringify(body), { status }),
  );
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

afterEach(() => {
  vi.unstubAllGlobals();
  window.history.replaceState(null, '', '/');
});

describe('SignInPage', () => {
  it('signs in with the token in the fragment, clears it, and goes to next', async () => {
    const fetch = stubFetch(204);
    window.history.replaceState(null, '', '/sign-in?next=%2Fs%2Fabc#token=XYZ');
    renderAt('/sign-in?next=%2Fs%2Fabc');
    expect(await screen.findByText('session page')).toBeTruthy();
    expect(window.location.hash).toBe('');
    // The page also asks which sign-in methods exist; the token is posted exactly once.
    const tokenCalls = fetch.mock.calls.filter(([url]) => url === '/api/auth/token');
    expect(tokenCalls).toHaveLength(1);
    const [, init] = tokenCalls[0]!;
    expect(init?.method).toBe('POST');
    expect(JSON.parse(String(init?.body))).toEqual({ token: 'XYZ' });
  });

  it('says so when a pasted token is refused', async () => {
    stubFetch(401, { error: { code: 'unauthorized', message: 'bad token' } });
    const user = userEvent.setup();
    renderAt('/sign-in');
    await user.type(screen.getByLabelText('Access token'), 'nope');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toBe('That token was not accepted.');
  });

  it('only follows same-origin next paths', () => {
    expect(safeNext('/s/abc')).toBe('/s/abc');
    expect(safeNext('//evil.example')).toBe('/');
    expect(safeNext('https://evil.example')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });
});
