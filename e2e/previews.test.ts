import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { SessionState } from '@kiln/protocol';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appsOrigin, ROOT } from '../scripts/dev-stack.ts';
import { apiGet, launchChromium, startTestStack } from './harness';

/**
 * Issue 13's done-when, in Chromium against the real worker, R2 and a real `kiln runner`: a
 * build's preview comes from Kiln's apps origin and outlives the runner; publishing serves it at
 * a public URL anyone can open; a second build, publish and a rollback; and the isolation of
 * built apps from Kiln (no cookie, no credentialed API call, a strict CSP on Kiln's pages).
 */

let stack: Awaited<ReturnType<typeof startTestStack>>;
let browser: Browser;
let apps: string;
let runner: ChildProcess | undefined;

beforeAll(async () => {
  stack = await startTestStack();
  apps = appsOrigin(Number(new URL(stack.config.server).port));
  browser = await launchChromium();
});

afterAll(async () => {
  if (runner && runner.exitCode === null) runner.kill('SIGKILL');
  await browser?.close();
  await stack?.stop();
});

/** Starts `kiln runner` (no `--serve-preview`); resolves once it is connected to Kiln. */
async function startRunner(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'runner', 'src', 'cli.ts'),
      'runner',
      '--server',
      stack.config.server,
      '--token',
      stack.config.runnerToken,
      '--workspaces',
      join(stack.dir, 'workspaces'),
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KILN_DEMO_CHUNK_DELAY_MS: '1' },
    },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('connected to')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`kiln runner exited ${code}:\n${output}`)));
  });
  return child;
}

/** SIGTERM, then waits for the runner to exit (it ends no build here: none is running). */
async function stopRunner(child: ChildProcess): Promise<void> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
}

/** A context signed in as the dev account with its password (Better Auth's session cookie). */
async function signedIn(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${stack.config.server}/sign-in`);
  const status = await page.evaluate(
    ([email, password]) =>
      fetch('/api/auth/sign-in/email', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      }).then((r) => r.status),
    [stack.config.email, stack.config.password] as const,
  );
  expect(status).toBe(200);
  const cookies = await context.cookies(stack.config.server);
  expect(cookies.some((c) => c.name.includes('session_token') && c.httpOnly)).toBe(true);
  return { context, page };
}

const state = (sessionId: string) =>
  apiGet<SessionState>(stack, `/api/sessions/${sessionId}/state`);

/** Polls the session's state until its turns are `n`, all ended; the poll is the wait. */
async function turnsEnded(sessionId: string, n: number): Promise<SessionState> {
  let last: SessionState | undefined;
  await expect
    .poll(
      async () => {
        last = await state(sessionId);
        return last.turns.length === n && last.turns.every((t) => t.status !== 'running');
      },
      { timeout: 90_000, interval: 200 },
    )
    .toBe(true);
  return last!;
}

/** A demo build started over the API (as the dev account) and built by a fresh runner. */
async function demoBuild(text: string): Promise<{ sessionId: string; previewUrl: string }> {
  const { server, projectId, token } = stack.config;
  const sessionId = randomUUID();
  const res = await fetch(`${server}/api/projects/${projectId}/sessions/${sessionId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ clientMessageId: randomUUID(), text, agent: 'demo' }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  runner = await startRunner();
  const built = await turnsEnded(sessionId, 1);
  await stopRunner(runner);
  expect(built.preview?.version).toBeGreaterThan(0);
  return { sessionId, previewUrl: built.preview!.url };
}

/** The text of the session page's preview iframe, once it has some matching `pattern`. */
async function previewShows(page: Page, pattern: RegExp): Promise<void> {
  await expect
    .poll(
      () =>
        page
          .frameLocator('[data-testid="preview-frame"]')
          .locator('body')
          .textContent({ timeout: 5_000 })
          .catch(() => ''),
      { timeout: 30_000 },
    )
    .toMatch(pattern);
}

/** Loads `url` and resolves with the status and the page's text. */
async function visit(page: Page, url: string): Promise<{ status: number; text: string }> {
  const response = await page.goto(url);
  return {
    status: response?.status() ?? 0,
    text: (await page.locator('body').textContent()) ?? '',
  };
}

function versionRow(page: Page, version: number) {
  return page.locator(`[data-testid="version-item"][data-version="${version}"]`);
}

describe('previews and deployments, end to end', () => {
  it('preview from the apps origin → runner stopped, preview still loads → publish → public URL without signing in → second build, publish, rollback', async () => {
    const { server, projectId } = stack.config;
    const owner = await signedIn();
    const page = owner.page;
    runner = await startRunner();

    // A demo build from the project page.
    await page.goto(`${server}/projects/${projectId}`);
    await page.getByTestId('composer-text').fill('A landing page for a pottery studio');
    await page.getByRole('button', { name: 'Start session' }).click();
    await page.waitForURL('**/projects/*/s/*');
    const sessionId = page.url().split('/s/')[1] as string;
    const first = await turnsEnded(sessionId, 1);
    expect(first.turns[0]!.status).toBe('completed');

    // The preview iframe loads version 1 from Kiln's apps origin, not from the runner.
    const frame = page.getByTestId('preview-frame');
    await frame.waitFor({ timeout: 30_000 });
    const firstUrl = `${apps}/p/${projectId}/1/`;
    expect(await frame.getAttribute('src')).toBe(firstUrl);
    await previewShows(page, /Pottery/);

    // The runner stops; the preview still loads, from Kiln.
    await stopRunner(runner);
    await page.reload();
    await page.getByTestId('preview-frame').waitFor({ timeout: 30_000 });
    await previewShows(page, /Pottery/);
    expect(page.frames().some((f) => f.url() === firstUrl)).toBe(true);

    // Publish version 1 from the project page.
    await page.goto(`${server}/projects/${projectId}`);
    const slug = `pottery-${Date.now().toString(36)}`;
    await page.getByLabel('Slug').fill(slug);
    await versionRow(page, 1).getByRole('button', { name: 'Publish version 1' }).click();
    await page.getByTestId('deployment-live').getByText('Version 1 is live').waitFor();
    const publicUrl = `${apps}/${slug}/`;
    expect(await page.getByTestId('deployment-live').getByRole('link').getAttribute('href')).toBe(
      publicUrl,
    );

    // Anyone: a new context with no cookies at all gets the app at the public URL.
    const visitor = await browser.newContext();
    const anonymous = await visitor.newPage();
    const published = await visit(anonymous, publicUrl);
    expect(published.status).toBe(200);
    expect(published.text).toMatch(/Pottery/);
    expect(published.text).not.toMatch(/Gift Cards/i);
    expect(await visitor.cookies()).toEqual([]);

    // A second tab on the project page follows what the first does.
    const second = await owner.context.newPage();
    await second.goto(`${server}/projects/${projectId}`);
    await second.getByTestId('deployment-live').getByText('Version 1 is live').waitFor();

    // A second build (a follow-up on a new runner), published from the second tab.
    runner = await startRunner();
    await page.goto(`${server}/projects/${projectId}/s/${sessionId}`);
    await page.getByTestId('follow-up-text').fill('Add a section about gift cards');
    await page.getByTestId('follow-up-send').click();
    const after = await turnsEnded(sessionId, 2);
    expect(after.turns[1]!.status).toBe('completed');
    expect(after.preview?.version).toBe(2);
    // The turn's end reached the project channel: the open tab lists version 2 without a reload.
    await versionRow(second, 2).waitFor({ timeout: 30_000 });
    await versionRow(second, 2).getByRole('button', { name: 'Publish version 2' }).click();
    await second.getByTestId('deployment-live').getByText('Version 2 is live').waitFor();
    await page.goto(`${server}/projects/${projectId}`);
    await page.getByTestId('deployment-live').getByText('Version 2 is live').waitFor();
    expect((await visit(anonymous, publicUrl)).text).toMatch(/Gift Cards/i);

    // Roll back to version 1 from the first tab; the second sees it live, the public URL serves it.
    await versionRow(page, 1).getByRole('button', { name: 'Roll back to version 1' }).click();
    await page.getByTestId('deployment-live').getByText('Version 1 is live').waitFor();
    await second.getByTestId('deployment-live').getByText('Version 1 is live').waitFor();
    const rolledBack = await visit(anonymous, publicUrl);
    expect(rolledBack.status).toBe(200);
    expect(rolledBack.text).toMatch(/Pottery/);
    expect(rolledBack.text).not.toMatch(/Gift Cards/i);

    // Unpublished, the public URL serves nothing.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Unpublish' }).click();
    await second.getByTestId('deployment-live').getByText('Not published.').waitFor();
    expect((await visit(anonymous, publicUrl)).status).toBe(404);

    await stopRunner(runner);
    await visitor.close();
    await owner.context.close();
  });

  it("isolation: an app's script gets no Kiln cookie and cannot call Kiln's API with one; Kiln's pages send a strict CSP", async () => {
    const { server, projectId } = stack.config;
    const built = await demoBuild('A page for a tea shop');
    const owner = await signedIn();
    const page = owner.page;

    // Kiln's own pages: a strict policy, enforced (an injected inline script does not run).
    const kilnPage = await page.goto(`${server}/projects/${projectId}`);
    const csp = kilnPage?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain(`frame-src ${apps}`);
    const injected = await page.evaluate(
      () =>
        new Promise<{ ran: boolean; violated: string }>((resolve) => {
          document.addEventListener(
            'securitypolicyviolation',
            (event) =>
              resolve({
                ran: (window as { kilnInjected?: boolean }).kilnInjected === true,
                violated: event.effectiveDirective,
              }),
            { once: true },
          );
          const script = document.createElement('script');
          script.textContent = 'window.kilnInjected = true;';
          document.body.append(script);
        }),
    );
    expect(injected).toEqual({ ran: false, violated: 'script-src-elem' });

    // The built app on the apps origin, in the signed-in browser: its script sees no cookie and
    // its credentialed calls to Kiln carry none.
    const app = await owner.context.newPage();
    const toKiln: Request[] = [];
    app.on('request', (request) => {
      if (request.url().startsWith(`${server}/api/`)) toKiln.push(request);
    });
    expect(built.previewUrl.startsWith(`${apps}/p/${projectId}/`)).toBe(true);
    const served = await app.goto(built.previewUrl);
    expect(served?.status()).toBe(200);
    expect(await app.evaluate(() => document.cookie)).toBe('');
    const projectsBefore = (await apiGet<{ projects: unknown[] }>(stack, '/api/projects')).projects
      .length;
    const attempts = await app.evaluate(async (kiln) => {
      const tryFetch = (path: string, init: RequestInit) =>
        fetch(`${kiln}${path}`, { credentials: 'include', ...init }).then(
          async (r) => `read ${r.status}: ${await r.text()}`,
          (error: unknown) => `refused: ${String(error)}`,
        );
      const create = { method: 'POST', body: JSON.stringify({ name: 'made by an app' }) };
      return {
        me: await tryFetch('/api/me', {}),
        create: await tryFetch('/api/projects', {
          ...create,
          headers: { 'content-type': 'application/json' },
        }),
        // No CORS: these are sent as they are, and their answers stay opaque to the script.
        blindMe: await tryFetch('/api/me', { mode: 'no-cors' }),
        blindCreate: await tryFetch('/api/projects', {
          ...create,
          mode: 'no-cors',
          headers: { 'content-type': 'text/plain' },
        }),
      };
    }, server);
    // The script reads nothing from Kiln.
    expect(attempts.me).toMatch(/^refused: TypeError/);
    expect(attempts.create).toMatch(/^refused: TypeError/);
    expect(attempts.blindMe).toBe('read 0: ');
    expect(attempts.blindCreate).toBe('read 0: ');
    // What reached Kiln carried no cookie; the requests Kiln answered it refused as unsigned-in.
    expect(toKiln.map((r) => `${r.method()} ${new URL(r.url()).pathname}`)).toEqual([
      'GET /api/me',
      'POST /api/projects',
      'GET /api/me',
      'POST /api/projects',
    ]);
    for (const request of toKiln) {
      expect((await request.allHeaders()).cookie).toBeUndefined();
    }
    const answered = await Promise.all(toKiln.slice(2).map((r) => r.response()));
    expect(answered.map((r) => r?.status())).toEqual([401, 401]);
    // The control: the same call from Kiln's own page carries the session cookie and succeeds.
    const own = page.waitForRequest((r) => r.url() === `${server}/api/me`);
    expect(await page.evaluate(() => fetch('/api/me').then((r) => r.status))).toBe(200);
    expect((await (await own).allHeaders()).cookie).toContain('session_token');
    const projectsAfter = (await apiGet<{ projects: unknown[] }>(stack, '/api/projects')).projects
      .length;
    expect(projectsAfter).toBe(projectsBefore);

    // Framed in Kiln's session page, the app cannot reach into Kiln's document either.
    await page.goto(`${server}/projects/${projectId}/s/${built.sessionId}`);
    await page.getByTestId('preview-frame').waitFor({ timeout: 30_000 });
    await previewShows(page, /Tea/);
    const framed = page.frames().find((f) => f.url().startsWith(`${apps}/`));
    expect(framed).toBeDefined();
    const reach = await framed!.evaluate(() => {
      try {
        return `read: ${window.parent.document.cookie}`;
      } catch (error) {
        return `blocked: ${(error as Error).name}`;
      }
    });
    expect(reach).toBe('blocked: SecurityError');
    await owner.context.close();
  });
});
