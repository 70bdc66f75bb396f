import { fireEvent, render, screen } from '@testing-library/react';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { describe, expect, it, vi } from 'vitest';
import type { ImportResult } from '../lib/import-recording';
import { ImportDrop } from './import-drop';

function renderDrop(importer?: (file: File, projectId: string) => Promise<ImportResult>) {
  const router = createMemoryRouter(
    [{ path: '/projects/:projectId', element: <ImportDrop projectId="p1" importer={importer} /> }],
    { initialEntries: ['/projects/p1'] },
  );
  render(<RouterProvider router={router} />);
  return screen.getByRole('region', { name: 'Import a recording' });
}

function drop(zone: HTMLElement, file: File) {
  fireEvent.dragOver(zone, { dataTransfer: { files: [file] } });
  fireEvent.drop(zone, { dataTransfer: { files: [file] } });
}

describe('dropping a recording on the project page', () => {
  it('imports the dropped file into the project and links the session it made', async () => {
    const importer = vi.fn(
      async (): Promise<ImportResult> => ({
        sessionId: 's-1',
        title: 'Fix the login page',
        events: 120,
        newEvents: 120,
        toolCalls: 7,
        badLines: 1,
      }),
    );
    const zone = renderDrop(importer);
    const file = new File(['{}\n'], 'rollout.jsonl');
    drop(zone, file);
    const link = await screen.findByRole('link', { name: 'Fix the login page' });
    expect(link.getAttribute('href')).toBe('/projects/p1/s/s-1');
    expect(importer).toHaveBeenCalledWith(file, 'p1');
    expect(zone.textContent).toContain('120 events, 7 tool calls imported.');
    expect(zone.textContent).toContain('1 unreadable line(s) skipped.');
  });

  it('says when the file was imported before and nothing was added', async () => {
    const zone = renderDrop(async () => ({
      sessionId: 's-1',
      title: 'Fix the login page',
      events: 120,
      newEvents: 0,
      toolCalls: 7,
      badLines: 0,
    }));
    drop(zone, new File(['{}\n'], 'rollout.jsonl'));
    expect(await screen.findByText(/already imported, nothing new/)).toBeTruthy();
  });

  it('refuses a file of no known format with the same error as kiln import, sending nothing', async () => {
    const fetch = vi.fn();
    vi.stubGlobal('fetch', fetch);
    const zone = renderDrop();
    drop(zone, new File(['{"theme":"dark"}\n'], 'settings.json'));
    expect((await screen.findByRole('alert')).textContent).toBe('settings.json: unknown format');
    expect(fetch).not.toHaveBeenCalled();
    vi.unstubAllGlobals();
  });
});
