import type { AppVersion, ProjectDeployment, ProjectServerFrame } from '@kiln/protocol';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProjectPage } from '../pages/project-page';
import { DeploymentsPanel } from './deployments-panel';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const APPS = 'http://127.0.0.1:9999';

function version(n: number): AppVersion {
  return {
    version: n,
    sessionId: 's1',
    turnId: `t${n}`,
    files: 3,
    bytes: 2048 * n,
    createdAt: 1_700_000_000_000 + n,
    url: `${APPS}/p/p1/${n}/`,
  };
}

function deployment(slug: string, n: number): ProjectDeployment {
  return {
    slug,
    version: n,
    url: `${APPS}/${slug}/`,
    publishedAt: 1_700_000_100_000,
    publishedBy: 'u1',
  };
}

type Handler = (init: RequestInit | undefined) => Response;

/**
 * A fetch stub: the project's versions (newest first) and deployment as given, and
 * `routes[METHOD path]` for anything else; unknown routes are a 404 in the API's shape.
 */
function stubFetch(
  versions: AppVersion[],
  live: ProjectDeployment | null,
  routes: Record<string, Handler> = {},
) {
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    const key = `${init?.method ?? 'GET'} ${url}`;
    const route = routes[key];
    if (route) return route(init);
    if (key === 'GET /api/projects/p1/versions') return Response.json({ versions });
    if (key === 'GET /api/projects/p1/deployment') {
      return Response.json({ deployment: live, history: [] });
    }
    return Response.json(
      { error: { code: 'not-found', message: `no route ${key}` } },
      { status: 404 },
    );
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

function renderPanel(canPublish = true, live: ProjectDeployment | null = null, key = 'k') {
  const props = { projectId: 'p1', canPublish, live, versionsKey: key };
  const view = render(<DeploymentsPanel {...props} />);
  return {
    rerender: (changes: Partial<typeof props>) =>
      view.rerender(<DeploymentsPanel {...props} {...changes} />),
  };
}

function row(n: number): HTMLElement {
  const item = screen
    .getAllByTestId('version-item')
    .find((li) => li.getAttribute('data-version') === String(n));
  if (!item) throw new Error(`no row for version ${n}`);
  return item;
}

function bodyOf(fetch: ReturnType<typeof stubFetch>, method: string): unknown {
  const call = fetch.mock.calls.find(([, init]) => init?.method === method);
  return call?.[1]?.body ? JSON.parse(String(call[1].body)) : undefined;
}

describe('DeploymentsPanel', () => {
  it('lists the versions newest first with their previews, and says when nothing is published', async () => {
    stubFetch([version(2), version(1)], null);
    renderPanel();
    await screen.findByText('Version 2');
    expect(screen.getAllByTestId('version-item').map((li) => li.dataset.version)).toEqual([
      '2',
      '1',
    ]);
    expect(screen.getByTestId('deployment-live').textContent).toContain('Not published.');
    const preview = within(row(1)).getByRole('link', { name: 'Preview version 1' });
    expect(preview.getAttribute('href')).toBe(`${APPS}/p/p1/1/`);
    expect(within(row(2)).getByText('3 files · 4.0 KB', { exact: false })).toBeTruthy();
  });

  it('publishes a version at the slug typed, and shows where it is live', async () => {
    const fetch = stubFetch([version(2), version(1)], null, {
      'PUT /api/projects/p1/deployment': () => Response.json(deployment('my-bakery', 2)),
    });
    renderPanel();
    await userEvent.type(await screen.findByLabelText('Slug'), 'my-bakery');
    expect(screen.getByText(`Published at ${APPS}/my-bakery/`)).toBeTruthy();
    await userEvent.click(within(row(2)).getByRole('button', { name: 'Publish version 2' }));
    const live = await screen.findByText(/Version 2 is live at/);
    expect(within(live).getByRole('link').getAttribute('href')).toBe(`${APPS}/my-bakery/`);
    expect(bodyOf(fetch, 'PUT')).toEqual({ slug: 'my-bakery', version: 2 });
    expect(within(row(2)).getByText('live')).toBeTruthy();
    expect(within(row(2)).queryByRole('button')).toBeNull();
    expect(within(row(1)).getByRole('button', { name: 'Roll back to version 1' })).toBeTruthy();
  });

  it('checks the slug before sending: a bad one shows the rule and nothing is sent', async () => {
    const fetch = stubFetch([version(1)], null);
    renderPanel();
    const slug = await screen.findByLabelText('Slug');
    await userEvent.type(slug, 'My Bakery!');
    await userEvent.click(screen.getByRole('button', { name: 'Publish version 1' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/3–40 characters of a-z/);
    expect(slug.getAttribute('aria-invalid')).toBe('true');
    await userEvent.clear(slug);
    await userEvent.type(slug, 'api');
    await userEvent.click(screen.getByRole('button', { name: 'Publish version 1' }));
    expect((await screen.findByRole('alert')).textContent).toBe('this slug is reserved');
    expect(fetch.mock.calls.some(([, init]) => init?.method === 'PUT')).toBe(false);
  });

  it("shows the API's message when the slug is taken by another project", async () => {
    stubFetch([version(1)], null, {
      'PUT /api/projects/p1/deployment': () =>
        Response.json(
          { error: { code: 'conflict', message: 'the slug bakery is taken' } },
          { status: 409 },
        ),
    });
    renderPanel();
    await userEvent.type(await screen.findByLabelText('Slug'), 'bakery');
    await userEvent.click(screen.getByRole('button', { name: 'Publish version 1' }));
    expect((await screen.findByRole('alert')).textContent).toBe('the slug bakery is taken');
    expect(screen.getByTestId('deployment-live').textContent).toContain('Not published.');
  });

  it('rolls back to an earlier version at the live slug', async () => {
    const fetch = stubFetch([version(3), version(2), version(1)], deployment('bakery', 3), {
      'PUT /api/projects/p1/deployment': () => Response.json(deployment('bakery', 1)),
    });
    renderPanel();
    await screen.findByText(/Version 3 is live/);
    expect((screen.getByLabelText('Slug') as HTMLInputElement).value).toBe('bakery');
    // The live version, at its slug, has nothing to publish.
    expect(within(row(3)).queryByRole('button')).toBeNull();
    await userEvent.click(within(row(1)).getByRole('button', { name: 'Roll back to version 1' }));
    await screen.findByText(/Version 1 is live/);
    expect(bodyOf(fetch, 'PUT')).toEqual({ slug: 'bakery', version: 1 });
    expect(within(row(3)).getByRole('button', { name: 'Publish version 3' })).toBeTruthy();
  });

  it('moves the live version to a new slug by publishing it again there', async () => {
    const fetch = stubFetch([version(1)], deployment('bakery', 1), {
      'PUT /api/projects/p1/deployment': () => Response.json(deployment('crumbs', 1)),
    });
    renderPanel();
    await screen.findByText(/Version 1 is live/);
    const slug = screen.getByLabelText('Slug');
    await userEvent.clear(slug);
    await userEvent.type(slug, 'crumbs');
    await userEvent.click(within(row(1)).getByRole('button', { name: 'Publish version 1' }));
    await screen.findByRole('link', { name: `${APPS}/crumbs/` });
    expect(bodyOf(fetch, 'PUT')).toEqual({ slug: 'crumbs', version: 1 });
  });

  it('unpublishes after confirmation', async () => {
    const fetch = stubFetch([version(1)], deployment('bakery', 1), {
      'DELETE /api/projects/p1/deployment': () => new Response(null, { status: 204 }),
    });
    const confirm = vi.spyOn(window, 'confirm').mockReturnValue(true);
    renderPanel();
    await userEvent.click(await screen.findByRole('button', { name: 'Unpublish' }));
    expect(confirm).toHaveBeenCalledWith(expect.stringContaining(`${APPS}/bakery/`));
    await screen.findByText('Not published.');
    expect(fetch.mock.calls.some(([, init]) => init?.method === 'DELETE')).toBe(true);
  });

  it('lets a viewer see the versions and the live deployment but not publish', async () => {
    stubFetch([version(2), version(1)], deployment('bakery', 2));
    renderPanel(false);
    await screen.findByText(/Version 2 is live/);
    expect(screen.getAllByTestId('version-item')).toHaveLength(2);
    expect(screen.queryByLabelText('Slug')).toBeNull();
    expect(screen.queryByRole('button', { name: /Publish|Roll back|Unpublish/ })).toBeNull();
    expect(screen.getByText('Owners and editors publish.')).toBeTruthy();
  });

  it('follows the deployment the channel reports and reloads the versions when told', async () => {
    const fetch = stubFetch([version(1)], null);
    const panel = renderPanel(true, null, 'a');
    await screen.findByText('Version 1');
    panel.rerender({ live: deployment('bakery', 1) });
    await screen.findByText(/Version 1 is live/);
    expect((screen.getByLabelText('Slug') as HTMLInputElement).value).toBe('bakery');
    panel.rerender({ live: null });
    await screen.findByText('Not published.');
    const reads = () =>
      fetch.mock.calls.filter(([url]) => url === '/api/projects/p1/versions').length;
    expect(reads()).toBe(1);
    panel.rerender({ live: null, versionsKey: 'b' });
    await waitFor(() => expect(reads()).toBe(2));
  });

  it('keeps what the channel said when the HTTP read of the deployment answers later', async () => {
    // The read's body is held until the test lets it go; after that only promise callbacks run.
    let release: (body: unknown) => void = () => {};
    const held = new Promise<unknown>((resolve) => {
      release = resolve;
    });
    stubFetch([version(2), version(1)], null, {
      'GET /api/projects/p1/deployment': () =>
        ({ ok: true, status: 200, json: () => held }) as Response,
    });
    const panel = renderPanel();
    await screen.findByText('Version 2');
    panel.rerender({ live: deployment('bakery', 2) });
    await screen.findByText(/Version 2 is live/);
    // The read began before this publish; its older answer must not undo it.
    release({ deployment: deployment('bakery', 1), history: [] });
    // A task boundary: every promise callback of the answer's handling has run by then.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(screen.getByTestId('deployment-live').textContent).toContain('Version 2 is live');
  });
});

/** A browser WebSocket stand-in: the test opens it and plays the server's frames. */
class FakeWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 3;
  static last: FakeWebSocket | undefined;
  readyState = FakeWebSocket.CONNECTING;
  readonly sent: unknown[] = [];
  constructor(readonly url: string) {
    super();
    FakeWebSocket.last = this;
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = FakeWebSocket.CLOSED;
  }
  open() {
    this.readyState = FakeWebSocket.OPEN;
    this.dispatchEvent(new Event('open'));
  }
  receive(frame: ProjectServerFrame) {
    this.dispatchEvent(new MessageEvent('message', { data: JSON.stringify(frame) }));
  }
}

describe('the project page', () => {
  it('shows a deployment-updated from the project channel in the deployments list', async () => {
    stubFetch([version(2), version(1)], null, {
      'GET /api/projects/p1': () =>
        Response.json({ id: 'p1', name: 'Bakery', role: 'editor', createdAt: 1, updatedAt: 1 }),
      'GET /api/projects/p1/sessions': () => Response.json({ sessions: [] }),
    });
    vi.stubGlobal('WebSocket', FakeWebSocket);
    const router = createMemoryRouter(
      [{ path: '/projects/:projectId', element: <ProjectPage /> }],
      {
        initialEntries: ['/projects/p1'],
      },
    );
    render(<RouterProvider router={router} />);
    await screen.findByText('Version 2');
    const socket = FakeWebSocket.last!;
    expect(socket.url).toMatch(/\/api\/projects\/p1\/ws$/);
    socket.open();
    socket.receive({
      type: 'ready',
      projectId: 'p1',
      headSeq: 0,
      protocolVersion: 1,
      viewerId: 'v',
    });
    const at = Date.now();
    socket.receive({
      type: 'events',
      events: [{ seq: 1, at, type: 'deployment-updated', deployment: deployment('bakery', 2) }],
    });
    await screen.findByText(/Version 2 is live/);
    socket.receive({
      type: 'events',
      events: [{ seq: 2, at, type: 'deployment-updated', deployment: deployment('bakery', 1) }],
    });
    await screen.findByText(/Version 1 is live/);
    socket.receive({
      type: 'events',
      events: [{ seq: 3, at, type: 'deployment-updated', deployment: null }],
    });
    await screen.findByText('Not published.');
  });
});
