import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiGet,
  d1Query,
  FIXTURES,
  headSeqOf,
  heldReplay,
  kiln,
  launchChromium,
  sessionState,
  startTestStack,
  waitForHead,
} from './harness';

const CLAUDE_RUN = join(FIXTURES, 'claude-code-stream-json.jsonl');
// Counted from the fixture itself: 79 tool_use blocks, each with a tool_result, 11 with
// is_error; the last main-agent TodoWrite holds 9 todos; the last main-agent text block:
const LAST_TEXT = 'Now let me create comprehensive unit tests for N-Queens:';

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

/** A signed-in page (its own browser context) showing the session. */
async function openSession(sessionId: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => {
    throw error;
  });
  const next = encodeURIComponent(`/s/${sessionId}`);
  await page.goto(`${stack.config.server}/sign-in?next=${next}#token=${stack.config.token}`);
  await page.waitForURL(`**/s/${sessionId}`);
  await page.locator('[data-head-seq]').waitFor();
  return page;
}

describe('a recorded Claude Code run streams from runner to browser', () => {
  it('replayed at max speed, the state and the D1 rows hold every tool call and the final todos, and the page shows them', async () => {
    const output = await kiln(stack, [
      'replay',
      CLAUDE_RUN,
      '--speed',
      'max',
      '--json',
      '--project',
      stack.config.projectId,
    ]);
    const result = JSON.parse(output.trim().split('\n').at(-1)!) as {
      sessionId: string;
      url: string;
    };
    expect(result.url).toBe(`${stack.config.server}/s/${result.sessionId}`);

    const state = await sessionState(stack, result.sessionId);
    expect(state.toolCalls).toHaveLength(79);
    expect(state.toolCalls.filter((t) => t.isError)).toHaveLength(11);
    expect(state.toolCalls.every((t) => t.output !== undefined && t.status === 'done')).toBe(true);
    expect(state.toolCalls.filter((t) => t.parentToolCallId !== undefined)).toHaveLength(19);
    expect(state.todos).toHaveLength(9);
    expect(state.todos.map((t) => t.status).join(',')).toBe(
      'completed,completed,completed,completed,completed,completed,in_progress,completed,pending',
    );
    expect(state.messages.filter((m) => m.role === 'assistant').at(-1)?.text).toContain(LAST_TEXT);
    // The run was cut off before its result line.
    expect(state.turns.map((t) => t.status)).toEqual(['interrupted']);

    const page = await openSession(result.sessionId);
    await waitForHead(page, state.headSeq);
    expect(await page.getByTestId('tool-call').count()).toBe(79);
    expect(await page.getByTestId('todo').count()).toBe(9);
    await expect.poll(() => page.getByText(LAST_TEXT).count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(stack.dir, 'session.png'), fullPage: false });

    // The write-through catches up, and D1 agrees with the state.
    await expect
      .poll(
        async () =>
          (await apiGet<{ d1LagEvents: number }>(stack, `/api/sessions/${result.sessionId}/health`))
            .d1LagEvents,
        {
          timeout: 30_000,
        },
      )
      .toBe(0);
    const [counts] = await d1Query<{ calls: number; errors: number; todos: number; head: number }>(
      stack,
      `SELECT (SELECT COUNT(*) FROM generation_tool_calls WHERE session_id = '${result.sessionId}') AS calls,
              (SELECT COUNT(*) FROM generation_tool_calls WHERE session_id = '${result.sessionId}' AND is_error = 1) AS errors,
              (SELECT COUNT(*) FROM generation_todos WHERE session_id = '${result.sessionId}') AS todos,
              (SELECT head_seq FROM generation_sessions WHERE id = '${result.sessionId}') AS head`,
    );
    expect(counts).toEqual({ calls: 79, errors: 11, todos: 9, head: state.headSeq });
    await page.context().close();
  });

  it('a second browser that joins mid-stream ends with the same page as the first and as a fresh load', async () => {
    const sessionId = randomUUID();
    // The replay holds after a first part of the run until the second browser has joined.
    const replay = heldReplay(stack, CLAUDE_RUN, 200, [
      '--speed',
      'max',
      '--json',
      '--project',
      stack.config.projectId,
      '--session',
      sessionId,
    ]);
    expect(await replay.paused).toBeGreaterThanOrEqual(200);
    // Every event sent so far is acknowledged, so this head holds until the replay resumes.
    const held = await sessionState(stack, sessionId);
    const first = await openSession(sessionId);
    await waitForHead(first, held.headSeq);
    expect(await first.getByTestId('tool-call').count()).toBeGreaterThan(0);
    const second = await openSession(sessionId);
    await waitForHead(second, held.headSeq);
    const joinedAt = await headSeqOf(second);
    expect(joinedAt).toBe(held.headSeq);

    replay.resume();
    await replay.done;
    const state = await sessionState(stack, sessionId);
    expect(joinedAt).toBeGreaterThan(0);
    expect(joinedAt).toBeLessThan(state.headSeq);
    await waitForHead(first, state.headSeq);
    await waitForHead(second, state.headSeq);
    const fresh = await openSession(sessionId);
    await waitForHead(fresh, state.headSeq);

    const rendered = async (page: Page) => ({
      toolCalls: await page.getByTestId('tool-call').allInnerTexts(),
      todos: await page.getByTestId('todo').allInnerTexts(),
      messages: await page.getByTestId('message').allInnerTexts(),
      status: await page.getByTestId('session-status').textContent(),
    });
    const expected = await rendered(fresh);
    expect(expected.toolCalls).toHaveLength(79);
    expect(await rendered(first)).toEqual(expected);
    expect(await rendered(second)).toEqual(expected);
  });
});
