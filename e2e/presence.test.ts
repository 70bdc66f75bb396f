import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signUpInBrowser, startTestStack } from './harness';

let stack: Awaited<ReturnType<typeof startTestStack>>;
let browser: Browser;

beforeAll(async () => {
  stack = await startTestStack();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

function signUp(page: Page, name: string): Promise<string> {
  return signUpInBrowser(page, stack.config.server, name);
}

const presenceLabel = (page: Page) => page.getByTestId('presence').getAttribute('aria-label');
/** Waits for an event, not for time: generous so a loaded machine only makes it slower. */
const WAIT = { timeout: 30_000 };

describe('presence in the browser', () => {
  it('a project page shows who else has it open, from the presence view and its diffs', async () => {
    const owner = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    owner.on('pageerror', (error) => errors.push(error.message));
    await signUp(owner, 'Grace');
    await owner.getByLabel('Project name').fill('Presence');
    await owner.getByRole('button', { name: 'Create project' }).click();
    await owner.waitForURL('**/projects/*');
    const projectUrl = owner.url();
    const projectId = projectUrl.split('/projects/')[1]!;
    await owner.getByText('Live').waitFor();
    await expect.poll(() => presenceLabel(owner), WAIT).toBe('Also in this project: Grace');

    const guestContext = await browser.newContext();
    const guest = await guestContext.newPage();
    const guestEmail = await signUp(guest, 'Ada');
    const added = await owner.evaluate(
      ([id, email]) =>
        fetch(`/api/projects/${id}/members`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, role: 'editor' }),
        }).then((r) => r.status),
      [projectId, guestEmail] as const,
    );
    expect(added).toBe(200);
    await guest.goto(projectUrl);
    // Ada joins: Grace's page learns it from a presence-diff, Ada's from the whole view.
    await expect.poll(() => presenceLabel(owner), WAIT).toBe('Also in this project: Grace, Ada');
    await expect.poll(() => presenceLabel(guest), WAIT).toBe('Also in this project: Grace, Ada');
    await guestContext.close();
    await expect.poll(() => presenceLabel(owner), WAIT).toBe('Also in this project: Grace');
    expect(errors).toEqual([]);
  });
});
