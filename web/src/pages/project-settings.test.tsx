import type { ProjectMember, ProjectSummary } from '@kiln/protocol';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProjectSettings } from '../components/project-settings';

afterEach(() => {
  vi.unstubAllGlobals();
});

const PROJECT: ProjectSummary = {
  id: 'p1',
  name: 'Bakery',
  role: 'owner',
  createdAt: 1,
  updatedAt: 1,
};
const ME: ProjectMember = { userId: 'u1', email: 'me@example.com', name: 'Me', role: 'owner' };
const ANA: ProjectMember = { userId: 'u2', email: 'ana@example.com', name: 'Ana', role: 'viewer' };

type Handler = (init: RequestInit | undefined) => Response | undefined;

/** A fetch stub answering the members and /api/me reads, and `routes[METHOD path]` otherwise. */
function stubFetch(routes: Record<string, Handler> = {}) {
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    const key = `${init?.method ?? 'GET'} ${url}`;
    const answer = routes[key]?.(init);
    if (answer) return answer;
    if (key === 'GET /api/projects/p1/members') return Response.json({ members: [ME, ANA] });
    if (key === 'GET /api/me')
      return Response.json({ user: { id: 'u1', email: ME.email, name: 'Me' } });
    return Response.json(
      { error: { code: 'not-found', message: `no route ${key}` } },
      { status: 404 },
    );
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

function renderSettings(project: ProjectSummary = PROJECT, onRenamed = vi.fn()) {
  const router = createMemoryRouter(
    [
      {
        path: '/projects/:projectId',
        element: <ProjectSettings project={project} name={project.name} onRenamed={onRenamed} />,
      },
      { path: '/', element: <p>projects page</p> },
    ],
    { initialEntries: ['/projects/p1'] },
  );
  render(<RouterProvider router={router} />);
  return onRenamed;
}

describe('ProjectSettings', () => {
  it('renames the project with PATCH {name} and reports the new name', async () => {
    const fetch = stubFetch({
      'PATCH /api/projects/p1': () => new Response(null, { status: 204 }),
    });
    const onRenamed = renderSettings();
    const input = screen.getByLabelText('Project name');
    await userEvent.clear(input);
    await userEvent.type(input, '  Bakery site ');
    await userEvent.click(screen.getByRole('button', { name: 'Rename' }));
    expect(await screen.findByRole('status')).toHaveProperty('textContent', 'Renamed.');
    const call = fetch.mock.calls.find(([, init]) => init?.method === 'PATCH');
    expect(call?.[0]).toBe('/api/projects/p1');
    expect(JSON.parse(String(call?.[1]?.body))).toEqual({ name: 'Bakery site' });
    expect(onRenamed).toHaveBeenCalledWith('Bakery site');
  });

  it('shows the API message when a rename fails', async () => {
    stubFetch({
      'PATCH /api/projects/p1': () =>
        Response.json(
          { error: { code: 'forbidden', message: 'viewers cannot write' } },
          { status: 403 },
        ),
    });
    const onRenamed = renderSettings();
    await userEvent.type(screen.getByLabelText('Project name'), '!');
    await userEvent.click(screen.getByRole('button', { name: 'Rename' }));
    expect((await screen.findByRole('alert')).textContent).toBe('viewers cannot write');
    expect(onRenamed).not.toHaveBeenCalled();
  });

  it('deletes only once the name is typed, then goes to /', async () => {
    const fetch = stubFetch({
      'DELETE /api/projects/p1': () => new Response(null, { status: 204 }),
    });
    renderSettings();
    const button = screen.getByRole('button', { name: 'Delete project' });
    const confirm = screen.getByLabelText('Type Bakery to confirm');
    expect(button).toHaveProperty('disabled', true);
    await userEvent.type(confirm, 'bakery');
    expect(button).toHaveProperty('disabled', true);
    await userEvent.clear(confirm);
    await userEvent.type(confirm, 'Bakery');
    expect(button).toHaveProperty('disabled', false);
    await userEvent.click(button);
    expect(await screen.findByText('projects page')).toBeTruthy();
    expect(
      fetch.mock.calls.some(([u, i]) => u === '/api/projects/p1' && i?.method === 'DELETE'),
    ).toBe(true);
  });

  it('adds a member by email with the chosen role, and shows refusals', async () => {
    const bo: ProjectMember = { userId: 'u3', email: 'bo@example.com', name: 'Bo', role: 'viewer' };
    const fetch = stubFetch({
      'PUT /api/projects/p1/members': (init) => {
        const body = JSON.parse(String(init?.body)) as { email: string };
        if (body.email === 'bo@example.com') return Response.json(bo);
        return Response.json(
          { error: { code: 'not-found', message: `nobody has signed up as ${body.email}` } },
          { status: 404 },
        );
      },
    });
    renderSettings();
    const list = await screen.findByTestId('member-list');
    expect(within(list).getAllByTestId('member-item')).toHaveLength(2);
    // The owner is not offered to change or remove themself; others are.
    expect(await screen.findByLabelText('Role of ana@example.com')).toBeTruthy();
    expect(screen.queryByLabelText('Role of me@example.com')).toBeNull();

    const form = screen.getByRole('form', { name: 'Add member' });
    await userEvent.type(within(form).getByLabelText('Email'), 'bo@example.com');
    await userEvent.selectOptions(within(form).getByLabelText('Role'), 'viewer');
    await userEvent.click(within(form).getByRole('button', { name: 'Add member' }));
    expect(await within(list).findByText('Bo')).toBeTruthy();
    const put = fetch.mock.calls.find(([, i]) => i?.method === 'PUT');
    expect(put?.[0]).toBe('/api/projects/p1/members');
    expect(JSON.parse(String(put?.[1]?.body))).toEqual({ email: 'bo@example.com', role: 'viewer' });

    await userEvent.type(within(form).getByLabelText('Email'), 'ghost@example.com');
    await userEvent.click(within(form).getByRole('button', { name: 'Add member' }));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'nobody has signed up as ghost@example.com',
    );
  });

  it('shows members read-only to a viewer, with no rename or delete', async () => {
    stubFetch();
    renderSettings({ ...PROJECT, role: 'viewer' });
    const items = await screen.findAllByTestId('member-item');
    expect(items).toHaveLength(2);
    expect(screen.getAllByTestId('member-role').map((r) => r.textContent)).toEqual([
      'owner',
      'viewer',
    ]);
    expect(screen.queryByRole('combobox')).toBeNull();
    expect(screen.queryByLabelText('Project name')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Delete project' })).toBeNull();
    expect(screen.queryByRole('form', { name: 'Add member' })).toBeNull();
  });
});
