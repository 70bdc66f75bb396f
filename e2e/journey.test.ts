import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SessionState } from '@kiln/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../scripts/dev-stack.ts';
import {
  launchChromium,
  signUpInBrowser,
  startTestStack,
  untilState,
  waitForHead,
} from './harness';

/** The follow-up prompt the demo agent holds on until it is interrupted. */
const HELD = 'opening hours';

/** Screenshots of every page, kept after the run (git-ignored) to judge the design by eye. */
const SHOTS = join(ROOT, 'test-results', 'screenshots');

let stack: Awaited<ReturnType<typeof startTestStack>>;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // The follow-up the test interrupts holds after its opening message (the demo agent's hold):
  // the interrupt lands while the turn runs, however fast or slow the machine is.
  stack = await startTestStack({ runner: true, runnerEnv: { KILN_DEMO_HOLD_ON_PROMPT: HELD } });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A page that fails the test on an uncaught error, a console error or a React warning. */
async function strictPage(context: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      problems.push(`${message.type()}: ${message.text()}`);
    }
  });
  return { page, problems };
}

function signUp(page: Page, name: string): Promise<string> {
  return signUpInBrowser(page, stack.config.server, name);
}

async function stateOf(page: Page, sessionId: string): Promise<SessionState> {
  return (await page.evaluate(
    (id) => fetch(`/api/sessions/${id}/state`).then((r) => r.json()),
    sessionId,
  )) as SessionState;
}

describe('the web app, end to end', () => {
  it('sign up → project → prompt → live build → trace → timeline scrub → follow-up → interrupt; a viewer can watch but not send or stop', async () => {
    const ownerContext = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const { page, problems } = await strictPage(ownerContext);
    await page.goto(`${stack.config.server}/sign-in`);
    await page.screenshot({ path: join(SHOTS, '01-sign-in.png') });
    await signUp(page, 'Ada');
    await page.screenshot({ path: join(SHOTS, '02-projects-empty.png') });

    await page.getByLabel('Project name').fill('Bakery site');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.waitForURL('**/projects/*');
    const projectId = page.url().split('/projects/')[1] as string;
    await page.getByText('No sessions yet.').waitFor();
    await page.screenshot({ path: join(SHOTS, '03-project-empty.png') });

    await page.getByTestId('composer-text').fill('A landing page for a small bakery');
    await page.getByRole('button', { name: 'Start session' }).click();
    await page.waitForURL('**/projects/*/s/*');
    const sessionId = page.url().split('/s/')[1] as string;

    // Live: tool calls stream in while the turn runs.
    await expect
      .poll(() => page.getByTestId('tool-call').count(), { timeout: 60_000 })
      .toBeGreaterThan(2);
    await page.screenshot({ path: join(SHOTS, '04-session-live.png') });

    // The trace: a waterfall with the turn and bars; a click opens the call.
    await page.getByTestId('tab-trace').click();
    await page.getByTestId('trace-turn').first().waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="trace-bar"][data-kind="tool-call"]').first().click();
    await page.getByTestId('span-detail').getByText('Input').waitFor();
    await page.screenshot({ path: join(SHOTS, '05-trace.png') });
    await page.getByTestId('tab-session').click();

    // The build finishes.
    const done = await untilState(
      () => stateOf(page, sessionId),
      (s) => s.turns.length === 1 && s.turns[0]!.status === 'completed',
    );
    await waitForHead(page, done.headSeq);
    expect(await page.getByTestId('tool-call').count()).toBe(done.toolCalls.length);
    await page.screenshot({ path: join(SHOTS, '06-session-done.png') });

    // Timeline scrub: the page at a past seq shows what the log held then.
    const mid = done.toolCalls[Math.floor(done.toolCalls.length / 2)]?.seq as number;
    await page.getByTestId('scrubber').fill(String(mid));
    await page.getByTestId('past-banner').waitFor();
    await expect
      .poll(() => page.locator('[data-head-seq]').getAttribute('data-head-seq'))
      .toBe(String(mid));
    const callsThen = done.toolCalls.filter((c) => c.seq <= mid).length;
    expect(await page.getByTestId('tool-call').count()).toBe(callsThen);
    await page.screenshot({ path: join(SHOTS, '07-timeline-scrub.png') });
    await page.getByTestId('past-banner').getByRole('button', { name: 'Back to live' }).click();
    await waitForHead(page, done.headSeq);
    expect(await page.getByTestId('tool-call').count()).toBe(done.toolCalls.length);

    // Follow-up, then interrupt it while it runs: the agent holds after its opening message, so
    // once that message is in, the turn is provably running until the interrupt ends it.
    await page.getByTestId('follow-up-text').fill(`Add a page with ${HELD}`);
    await page.getByTestId('follow-up-send').click();
    const held = await untilState(
      () => stateOf(page, sessionId),
      (s) =>
        s.turns.length === 2 &&
        s.messages.some(
          (m) => m.role === 'assistant' && m.turnId === s.turns[1]!.turnId && m.status === 'done',
        ),
      30_000,
    );
    expect(held.turns.map((t) => t.status)).toEqual(['completed', 'running']);
    await page.getByTestId('interrupt').click();
    const after = await untilState(
      () => stateOf(page, sessionId),
      (s) => s.turns[1]?.status !== 'running',
      30_000,
    );
    expect(after.turns.map((t) => t.status)).toEqual(['completed', 'interrupted']);
    await waitForHead(page, after.headSeq);
    // Sent once: one user message, and nothing left pending.
    const prompts = page.locator('[data-testid="message"][data-role="user"]');
    expect(await prompts.filter({ hasText: 'opening hours' }).count()).toBe(1);
    expect(await page.getByTestId('pending-message').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, '08-session-interrupted.png') });

    // Other pages.
    await page.goto(`${stack.config.server}/projects/${projectId}`);
    await page.locator(`[data-session-id="${sessionId}"]`).waitFor();
    await page.screenshot({ path: join(SHOTS, '09-project.png') });
    await page.goto(`${stack.config.server}/`);
    await page.getByTestId('project-list').getByText('Bakery site').waitFor();
    await page.screenshot({ path: join(SHOTS, '10-projects.png') });
    await page.goto(`${stack.config.server}/runners`);
    await page.getByRole('heading', { name: 'Your runners' }).waitFor();
    await page.getByLabel('Runner name').fill('laptop');
    await page.getByRole('button', { name: 'Create token' }).click();
    expect(await page.getByTestId('secret-value').textContent()).toMatch(/^kiln_rt_/);
    await page.getByTestId('runner-row').first().waitFor();
    await page.screenshot({ path: join(SHOTS, '11-runners.png') });
    await page.goto(`${stack.config.server}/settings`);
    await page.getByLabel('Token name').fill('ci');
    await page.getByRole('button', { name: 'Create token' }).click();
    expect(await page.getByTestId('secret-value').textContent()).toMatch(/^kiln_pat_/);
    await page.screenshot({ path: join(SHOTS, '12-settings.png') });

    // A viewer: added by the owner, sees the session, cannot send or stop.
    const viewerContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const viewer = await strictPage(viewerContext);
    const viewerEmail = await signUp(viewer.page, 'Vera');
    const added = await page.evaluate(
      ([id, email]) =>
        fetch(`/api/projects/${id}/members`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, role: 'viewer' }),
        }).then((r) => r.status),
      [projectId, viewerEmail] as const,
    );
    expect(added).toBe(200);
    await viewer.page.goto(`${stack.config.server}/projects/${projectId}/s/${sessionId}`);
    await viewer.page.getByTestId('composer-readonly').waitFor();
    expect(await viewer.page.getByTestId('follow-up-text').count()).toBe(0);
    expect(await viewer.page.getByTestId('interrupt').count()).toBe(0);
    // The viewer's page itself raised nothing; the refusals below log 403s on purpose.
    expect(viewer.problems).toEqual([]);
    const refused = await viewer.page.evaluate(
      ([pid, sid]) =>
        Promise.all([
          fetch(`/api/projects/${pid}/sessions/${sid}/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ clientMessageId: crypto.randomUUID(), text: 'hi' }),
          }).then((r) => r.status),
          fetch(`/api/projects/${pid}/sessions/${sid}/interrupt`, { method: 'POST' }).then(
            (r) => r.status,
          ),
        ]),
      [projectId, sessionId] as const,
    );
    expect(refused).toEqual([403, 403]);
    await viewer.page.screenshot({ path: join(SHOTS, '13-viewer-phone.png'), fullPage: true });

    // Dark theme.
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${stack.config.server}/projects/${projectId}/s/${sessionId}`);
    await waitForHead(page, after.headSeq);
    await page.screenshot({ path: join(SHOTS, '14-session-dark.png') });

    expect(problems).toEqual([]);
    await ownerContext.close();
    await viewerContext.close();
  });
});
