import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
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

  it('follows no link out of dist/: a linked directory, file or dist itself is a 404', async () => {
    await symlink('/etc', path.join(dir, 'p1', 'dist', 'etc'));
    await symlink('/etc/passwd', path.join(dir, 'p1', 'dist', 'passwd'));
    await symlink(path.join(dir, 'p1', 'secret.txt'), path.join(dir, 'p1', 'dist', 'secret'));
    await mkdir(path.join(dir, 'p3'));
    await symlink('/etc', path.join(dir, 'p3', 'dist'));
    for (const url of [
      '/p1/etc/passwd',
      '/p1/passwd',
      '/p1/secret',
      '/p1/secret.txt',
      '/p3/passwd',
    ]) {
      const res = await fetch(`${origin}${url}`);
      expect({ url, status: res.status }).toEqual({ url, status: 404 });
      expect(await res.text()).not.toMatch(/root:|not in dist/);
    }
    // A link that stays inside dist/ is fine.
    await symlink('index.html', path.join(dir, 'p1', 'dist', 'home.html'));
    expect(await (await fetch(`${origin}/p1/home`)).text()).toBe('<h1>built</h1>');
  });

  it('serves no dotfile or dot directory', async () => {
    await writeFile(path.join(dir, 'p1', 'dist', '.env'), 'SECRET=1');
    await mkdir(path.join(dir, 'p1', 'dist', '.git'));
    await writeFile(path.join(dir, 'p1', 'dist', '.git', 'config'), 'secret');
    await mkdir(path.join(dir, 'p1', 'dist', 'sub'));
    await writeFile(path.join(dir, 'p1', 'dist', 'sub', '.secret'), 'secret');
    for (const url of ['/p1/.env', '/p1/%2eenv', '/p1/.git/config', '/p1/sub/.secret']) {
      const res = await fetch(`${origin}${url}`);
      expect({ url, status: res.status }).toEqual({ url, status: 404 });
    }
  });

  it('sends nosniff and a content type with every file, and nosniff on errors', async () => {
    await writeFile(path.join(dir, 'p1', 'dist', 'app.js'), 'console.log(1)');
    const js = await fetch(`${origin}/p1/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await fetch(`${origin}/p1/`);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('x-content-type-options')).toBe('nosniff');
    const missing = await fetch(`${origin}/p1/nope.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('keeps no state per project id: a project built after a 404 is served at once', async () => {
    for (let i = 0; i < 200; i++) expect((await fetch(`${origin}/nobody-${i}/`)).status).toBe(404);
    expect(Object.values(server).some((field) => field instanceof Map)).toBe(false);
    await mkdir(path.join(dir, 'nobody-7', 'dist'), { recursive: true });
    await writeFile(path.join(dir, 'nobody-7', 'dist', 'index.html'), 'late');
    expect(await (await fetch(`${origin}/nobody-7/`)).text()).toBe('late');
  });
});
