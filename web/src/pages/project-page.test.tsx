import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NewSessionComposer } from './project-page';

afterEach(() => {
  vi.unstubAllGlobals();
});

/** Stubs fetch with a created message and renders the composer under a router. */
function renderComposer() {
  const fetch = vi.fn(
    async (_url: string, _init?: RequestInit) =>
      new Response(
        JSON.stringify({
          sessionId: 's',
          messageId: 'm',
          seq: 1,
          created: true,
          sessionCreated: true,
        }),
        { status: 201 },
      ),
  );
  vi.stubGlobal('fetch', fetch);
  const router = createMemoryRouter(
    [
      { path: '/projects/:projectId', element: <NewSessionComposer projectId="p1" /> },
      { path: '/projects/:projectId/s/:sessionId', element: <p>session page</p> },
    ],
    { initialEntries: ['/projects/p1'] },
  );
  render(<RouterProvider router={router} />);
  return fetch;
}

describe('NewSessionComposer', () => {
  it('sends on Enter; Shift+Enter adds a line to the prompt instead', async () => {
    const fetch = renderComposer();
    const box = screen.getByTestId('composer-text') as HTMLTextAreaElement;
    await userEvent.type(box, 'a bakery page{Shift>}{Enter}{/Shift}with a menu');
    expect(box.value).toBe('a bakery page\nwith a menu');
    expect(fetch).not.toHaveBeenCalled();
    await userEvent.type(box, '{Enter}');
    expect(await screen.findByText('session page')).toBeTruthy();
    const [, init] = fetch.mock.calls.find(([u]) => u.endsWith('/messages'))!;
    expect(JSON.parse(String(init?.body))).toMatchObject({ text: 'a bakery page\nwith a menu' });
  });

  it('does not send an empty prompt on Enter', async () => {
    const fetch = renderComposer();
    await userEvent.type(screen.getByTestId('composer-text'), '  {Enter}');
    expect(fetch).not.toHaveBeenCalled();
  });

  it('sends the permission mode chosen in its labelled select with the prompt', async () => {
    const fetch = renderComposer();
    const select = screen.getByLabelText('Permission mode') as HTMLSelectElement;
    expect(select.value).toBe('acceptEdits');
    await userEvent.selectOptions(select, 'Plan only (read)');
    await userEvent.type(screen.getByTestId('composer-text'), 'what would you change?');
    await userEvent.click(screen.getByRole('button', { name: 'Start session' }));
    expect(await screen.findByText('session page')).toBeTruthy();
    const [url, init] = fetch.mock.calls.find(([u]) => u.endsWith('/messages'))!;
    expect(url).toMatch(/^\/api\/projects\/p1\/sessions\/[^/]+\/messages$/);
    expect(JSON.parse(String(init?.body))).toMatchObject({
      text: 'what would you change?',
      agent: 'demo',
      permissionMode: 'plan',
    });
  });
});
