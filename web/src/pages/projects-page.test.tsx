import type { ProjectSummary } from '@kiln/protocol';
import { act, render, screen } from '@testing-library/react';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { announceProjectsChanged } from '../lib/projects-sync';
import { ProjectsPage } from './projects-page';

const project = (id: string, name: string): ProjectSummary => ({
  id,
  name,
  role: 'owner',
  createdAt: 1,
  updatedAt: 1,
});

/** `GET /api/projects` answers with whatever `lists` holds next (the last one repeats). */
function stubProjects(lists: ProjectSummary[][]) {
  let call = 0;
  const fetch = vi.fn(async (_url: string) => {
    const list = lists[Math.min(call++, lists.length - 1)];
    return new Response(JSON.stringify({ projects: list }), { status: 200 });
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

function renderPage() {
  const router = createMemoryRouter([{ path: '/', element: <ProjectsPage /> }]);
  render(<RouterProvider router={router} />);
}

const names = () => screen.getAllByRole('link').map((a) => a.textContent);

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('ProjectsPage', () => {
  it('shows a project another tab created, without a reload', async () => {
    stubProjects([[project('a', 'Alpha')], [project('a', 'Alpha'), project('b', 'Bakery')]]);
    renderPage();
    expect(await screen.findByText('Alpha')).toBeTruthy();
    expect(names()).toEqual(['Alpha']);
    // What `createProject` does in the other tab once the project exists.
    announceProjectsChanged();
    expect(await screen.findByText('Bakery')).toBeTruthy();
    expect(names()).toEqual(['Alpha', 'Bakery']);
  });

  it('refetches when the tab comes back into view, so renames and deletions made elsewhere show', async () => {
    const fetch = stubProjects([
      [project('a', 'Alpha'), project('b', 'Bakery')],
      [project('a', 'Alpha shop')],
    ]);
    renderPage();
    expect(await screen.findByText('Bakery')).toBeTruthy();
    act(() => {
      document.dispatchEvent(new Event('visibilitychange'));
    });
    expect(await screen.findByText('Alpha shop')).toBeTruthy();
    expect(names()).toEqual(['Alpha shop']);
    expect(fetch.mock.calls.filter(([url]) => url === '/api/projects')).toHaveLength(2);
  });
});
