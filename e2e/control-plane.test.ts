import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { SessionState } from '@kiln/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startTestStack, untilState, waitForHead } from './harness';

let stack: Awaited<ReturnType<typeof startTestStack>>;
let browser: Browser;

beforeAll(async () => {
  stack = await startTestStack({ runner: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

function failOnPageError(page: Page): Page {
  page.on('pageerror', (error) => {
    throw error;
  });
  return page;
}

describe('a new person on a fresh stack', () => {
  it('signs up, creates a project, sends a prompt, watches the local runner build it to completion, and a second tab sees the list update live', async () => {
    const context = await browser.newContext();
    const page = failOnPageError(await context.newPage());
    const server = stack.config.server;

    await page.goto(`${server}/sign-in`);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Name').fill('Grace');
    await page.getByLabel('Email').fill(`grace-${randomUUID().slice(0, 8)}@example.test`);
    await page.getByLabel('Password').fill('a long enough password');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${server}/`);

    await page.getByLabel('Project name').fill('Bakery site');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.waitForURL('**/projects/*');
    const projectUrl = page.url();
    await expect.poll(() => page.getByTestId('project-name').textContent()).toBe('Bakery site');

    // A second tab on the project page, before the session exists.
    const second = failOnPageError(await context.newPage());
    await second.goto(projectUrl);
    await second.getByText('Live').waitFor();
    expect(await second.getByTestId('session-item').count()).toBe(0);

    await page.getByTestId('composer-text').fill('A landing page for a small bakery');
    await page.getByRole('button', { name: 'Start session' }).click();
    await page.waitForURL('**/projects/*/s/*');
    const sessionId = page.url().split('/s/')[1]!;

    // The second tab lists the new session without reloading.
    await second.locator(`[data-session-id="${sessionId}"]`).waitFor({ timeout: 15_000 });

    // The demo build runs to completion on the local runner and the page shows it.
    const state = async () =>
      (await page.evaluate(
        (id) => fetch(`/api/sessions/${id}/state`).then((r) => r.json()),
        sessionId,
      )) as SessionState;
    const final = await untilState(state, (s) => s.turns[0]?.status === 'completed');
    expect(final.turns).toHaveLength(1);
    expect(final.todos.length).toBeGreaterThan(0);
    expect(final.todos.every((t) => t.status === 'completed')).toBe(true);
    expect(final.toolCalls.length).toBeGreaterThan(0);
    await waitForHead(page, final.headSeq);
    expect(await page.getByTestId('tool-call').count()).toBe(final.toolCalls.length);
    await page.screenshot({ path: join(stack.dir, 'control-plane.png') });

    // The second tab's list shows the session finished.
    await expect
      .poll(
        () =>
          second
            .locator(`[data-session-id="${sessionId}"] [data-testid="session-item-status"]`)
            .textContent(),
        {
          timeout: 30_000,
        },
      )
      .toBe('idle');
    await context.close();
  });
});
