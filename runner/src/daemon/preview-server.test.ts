import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PreviewServer } from './preview-server';

let dir: string;
let server: PreviewServer;
let origin: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-preview-'));
  await mkdir(path.join(dir, 'p1', 'dist'), { recursive: true });
  await writeFile(path.join(dir, 'p1', 'dist', 'index.html'), '<h1>built</h1>');
  await writeFile(path.join(dir, 'p1', 'secret.txt'), 'not in dist');
  server = new PreviewServer({ workspaces: dir });
  origin = await server.start();
});

afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('PreviewServer', () => {
  it("serves a project's dist/ under its path, and gives a URL only once index.html is built", async () => {
    expect(server.urlFor('p1')).toBe(`${origin}/p1/`);
    expect(server.urlFor('p2')).toBeUndefined();
    const res = await fetch(`${origin}/p1/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('<h1>built</h1>');
    // A rebuild shows at once.
    await writeFile(path.join(dir, 'p1', 'dist', 'index.html'), '<h1>rebuilt</h1>');
    expect(await (await fetch(`${origin}/p1/index.html`)).text()).toBe('<h1>rebuilt</h1>');
  });

  it('redirects /<id> to /<id>/ so relative links resolve inside the project', async () => {
    const res = await fetch(`${origin}/p1`, { redirect: 'manual' });
    expect(res.status).toBe(308);
    expect(res.headers.get('location')).toBe('/p1/');
  });

  it('serves nothing outside dist/: other workspace files, traversal, unbuilt projects', async () => {
    expect((await fetch(`${origin}/p1/../p1/secret.txt`)).status).toBe(404);
    expect((await fetch(`${origin}/p1/%2e%2e/secret.txt`)).status).toBe(404);
    expect((await fetch(`${origin}/p2/`)).status).toBe(404);
    expect((await fetch(`${origin}/..%2fp1/`)).status).toBe(404);
  });
});
