import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { SessionEvent, SessionState } from '@kiln/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appsOrigin, ROOT } from '../scripts/dev-stack.ts';
import { type ManagedProcess, startTsx } from '../scripts/processes.ts';
import {
  apiGet,
  CLI,
  FIXTURES,
  launchChromium,
  sessionState,
  startTestStack,
  untilState,
} from './harness';

/**
 * `kiln runner` as a real child process against the real worker: the demo build with its preview,
 * a follow-up that continues from the checkpoint, an interrupt, SIGTERM, and SIGKILL mid-build
 * with a restart that resends what the outbox held.
 */

let stack: Awaited<ReturnType<typeof startTestStack>>;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

/**
 * `kiln runner` with the demo agent pausing `chunkDelayMs` between chunks; with `holdOnPrompt`,
 * its turns whose prompt contains that text hold after their opening message until interrupted.
 */
function startDaemon(chunkDelayMs: number, holdOnPrompt?: string): ManagedProcess {
  return startTsx(
    CLI,
    [
      'runner',
      '--server',
      stack.config.server,
      '--token',
      stack.config.runnerToken,
      '--workspaces',
      join(stack.dir, 'workspaces'),
      '--recordings',
      FIXTURES,
      '--capacity',
      '3',
    ],
    {
      cwd: ROOT,
      env: {
        KILN_DEMO_CHUNK_DELAY_MS: String(chunkDelayMs),
        ...(holdOnPrompt ? { KILN_DEMO_HOLD_ON_PROMPT: holdOnPrompt } : {}),
      },
    },
  );
}

async function post(path: string, body?: unknown): Promise<Response> {
  return fetch(`${stack.config.server}${path}`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${stack.config.token}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

async function prompt(sessionId: string, text: string, agent = 'demo', model = '') {
  const res = await post(`/api/projects/${stack.config.projectId}/sessions/${sessionId}/messages`, {
    clientMessageId: randomUUID(),
    text,
    agent,
    model,
  });
  expect(res.status, await res.clone().text()).toBe(201);
}

const state = (sessionId: string) => sessionState(stack, sessionId);

async function events(sessionId: string): Promise<SessionEvent[]> {
  const all: SessionEvent[] = [];
  for (let after = 0; ; ) {
    const page = await apiGet<{ events: SessionEvent[]; nextAfter: number | null }>(
      stack,
      `/api/sessions/${sessionId}/events?after=${after}&limit=5000`,
    );
    all.push(...page.events);
    if (page.nextAfter === null) return all;
    after = page.nextAfter;
  }
}

/** The session's state once `done(state)` (see `untilState`). */
const until = (sessionId: string, done: (s: SessionState) => boolean, timeout?: number) =>
  untilState(() => state(sessionId), done, timeout);

const turnsEnded = (n: number) => (s: SessionState) =>
  s.turns.length === n && s.turns.every((t) => t.status !== 'running');

/**
 * The run's events with turn ids and timings taken out and each message's deltas joined, so a
 * run can be compared with another run of the same deterministic agent.
 */
function normalise(log: readonly SessionEvent[], turnId: string): string[] {
  const out: string[] = [];
  const text = new Map<string, number>();
  const strip = (value: unknown) =>
    JSON.stringify(value)
      .replaceAll(turnId, 'T')
      .replace(/"durationMs":[\d.]+/g, '"durationMs":0');
  for (const event of log) {
    if (event.type === 'text-delta' || event.type === 'reasoning-delta') {
      const key = `${event.type}:${event.messageId}`;
      const at = text.get(key);
      if (at !== undefined && at === out.length - 1) {
        out[at] = `${out[at]}${event.delta}`;
      } else {
        text.set(key, out.length);
        out.push(`${strip({ type: event.type, messageId: event.messageId })}${event.delta}`);
      }
      continue;
    }
    if (['user-message', 'session-status', 'turn-started', 'turn-finished'].includes(event.type))
      continue;
    const { seq: _seq, at: _at, ...body } = event;
    out.push(strip(body));
  }
  return out;
}

describe('kiln runner against the real worker', () => {
  let daemon: ManagedProcess;

  it("builds the demo site to completion, previews it from Kiln's apps origin, and a follow-up continues from the checkpoint", async () => {
    daemon = startDaemon(5);
    await daemon.waitForOutput('connected to');
    expect(daemon.output()).toMatch(/agents: demo, replay/);
    const sessionId = randomUUID();
    await prompt(sessionId, 'A landing page for a pottery studio with class signups');
    const first = await until(sessionId, turnsEnded(1));
    expect(first.turns[0]!.status).toBe('completed');
    expect(first.preview?.status).toBe('ready');
    // Uploaded to Kiln and served from its apps origin, not from the runner.
    expect(first.preview?.version).toBe(1);
    const url = first.preview!.url;
    const apps = appsOrigin(Number(new URL(stack.config.server).port));
    expect(url.startsWith(`${apps}/p/`)).toBe(true);
    expect(url).toMatch(/\/1\/$/);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<title>');
    expect(html).toMatch(/Pottery/);
    expect((await fetch(new URL('styles.css', url))).status).toBe(200);

    // The session page shows it in a sandboxed iframe.
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const { server, token } = stack.config;
      await page.goto(
        `${server}/sign-in?next=${encodeURIComponent(`/s/${sessionId}`)}#token=${token}`,
      );
      const frame = page.locator('[data-testid="preview-frame"]');
      await frame.waitFor({ timeout: 30_000 });
      expect(await frame.getAttribute('src')).toBe(url);
      expect(await frame.getAttribute('sandbox')).toContain('allow-scripts');
      await expect
        .poll(
          () => page.frameLocator('[data-testid="preview-frame"]').locator('body').textContent(),
          {
            timeout: 15_000,
          },
        )
        .toMatch(/Pottery/);
    } finally {
      await browser.close();
    }

    // The follow-up gets the demo's checkpoint: it edits the page instead of starting over.
    await prompt(sessionId, 'Add a section about gift cards');
    const second = await until(sessionId, turnsEnded(2));
    expect(second.turns[1]!.status).toBe('completed');
    expect(second.todos[0]!.content).toBe('Read the current page');
    expect(second.preview?.version).toBe(2);
    expect(await (await fetch(second.preview!.url)).text()).toMatch(/Gift Cards/i);
    // Versions are immutable: the first still serves the page without the new section.
    expect(await (await fetch(url)).text()).not.toMatch(/Gift Cards/i);
  });

  it('plays a recording through the replay agent', async () => {
    const sessionId = randomUUID();
    await prompt(sessionId, 'codex-exec-file-change.jsonl', 'replay');
    const s = await until(sessionId, turnsEnded(1));
    expect(s.turns[0]!.status).toBe('completed');
    expect(s.messages.some((m) => m.role === 'assistant' && m.text.length > 0)).toBe(true);
  });

  it('an interrupt reaches the running agent: the runner ends the turn interrupted', async () => {
    expect(await daemon.stop()).toBe(0);
    // The demo agent holds after its opening message until interrupted: the interrupt lands
    // mid-turn however fast or slow the machine is.
    daemon = startDaemon(5, 'recipe box');
    await daemon.waitForOutput('connected to');
    const sessionId = randomUUID();
    await prompt(sessionId, 'A recipe box for my grandmother');
    await until(sessionId, (s) => s.messages.some((m) => m.role === 'assistant' && m.text));
    const requestedAt = Date.now();
    expect(
      (await post(`/api/projects/${stack.config.projectId}/sessions/${sessionId}/interrupt`))
        .status,
    ).toBe(202);
    const s = await until(sessionId, turnsEnded(1), 30_000);
    expect(s.turns[0]!.status).toBe('interrupted');
    const buildId = s.turns[0]!.buildId;
    // The runner ended it (its own log line), not the session's 10 s fallback.
    await daemon.waitForOutput(`build ${buildId}: interrupted`);
    expect(s.todos.some((t) => t.status !== 'completed')).toBe(true);
    const log = await events(sessionId);
    const finished = log.find((e) => e.type === 'turn-finished')!;
    expect(log.at(-1)!.seq).toBe(finished.seq); // nothing after the turn's end
    console.log(`interrupt → turn-finished committed: ${finished.at - requestedAt} ms`);
  });

  it('SIGTERM lets a running turn finish, then exits 0; Kiln still serves its preview', async () => {
    expect(await daemon.stop()).toBe(0);
    daemon = startDaemon(40);
    await daemon.waitForOutput('connected to');
    const sessionId = randomUUID();
    await prompt(sessionId, 'A tiny page about owls');
    await until(sessionId, (s) => s.toolCalls.length >= 1);
    expect(await daemon.stop()).toBe(0);
    const s = await state(sessionId);
    expect(s.turns.map((t) => t.status)).toEqual(['completed']);
    // The turn's preview was uploaded before it ended: Kiln serves it with no runner running.
    expect(s.preview?.version).toBeGreaterThan(0);
    const preview = await fetch(s.preview!.url);
    expect(preview.status).toBe(200);
    expect(await preview.text()).toMatch(/owl/i);
  });

  it('killed with SIGKILL mid-build and restarted, it resends what was not acknowledged: every event once, the turn ended', async () => {
    // A reference run of the same deterministic prompt, start to end.
    daemon = startDaemon(60);
    await daemon.waitForOutput('connected to');
    const text = 'A schedule page for a community garden';
    const reference = randomUUID();
    await prompt(reference, text);
    const ref = await until(reference, turnsEnded(1));
    expect(ref.turns[0]!.status).toBe('completed');
    const expected = normalise(await events(reference), ref.turns[0]!.turnId);

    const sessionId = randomUUID();
    await prompt(sessionId, text);
    await until(sessionId, (s) => s.toolCalls.length >= 3);
    // Kill while the outbox holds events the server has not acknowledged yet: watch the file (a
    // plain SQLite file in WAL mode, readable beside the writer) and kill the moment it does.
    const outboxFile = join(stack.dir, 'workspaces', '.kiln-outbox.db');
    const watcher = new DatabaseSync(outboxFile);
    const stored = watcher.prepare('SELECT count(*) AS n FROM outbox_events');
    // Checked every turn of the event loop (a row may stay for a few ms only); 60 s bound.
    const deadline = Date.now() + 60_000;
    while ((stored.get() as { n: number }).n === 0) {
      if (Date.now() > deadline) throw new Error('the outbox never held an unacknowledged event');
      await new Promise((r) => setImmediate(r));
    }
    daemon.kill('SIGKILL');
    watcher.close();
    await daemon.exited;
    // What the dead process had stored and not yet seen acknowledged.
    // (Read with node:sqlite: the outbox is a plain SQLite file.)
    const outbox = new DatabaseSync(outboxFile);
    const pending = outbox.prepare('SELECT build_id, finished FROM outbox_build_info').all() as {
      build_id: string;
      finished: number;
    }[];
    const unacked = (
      outbox
        .prepare('SELECT body FROM outbox_events WHERE build_id = ? ORDER BY producer_seq')
        .all(pending[0]?.build_id ?? '') as { body: string }[]
    ).map((row) => ({ event: JSON.parse(row.body) as SessionEvent }));
    outbox.close();
    expect(pending.map((p) => p.finished)).toEqual([0]);

    daemon = startDaemon(60);
    await daemon.waitForOutput(/resuming with \d+ unacknowledged event\(s\) \(epoch 2\)/);
    const s = await until(sessionId, turnsEnded(1));
    expect(s.turns[0]!.status).toBe('failed');
    expect(s.turns[0]!.error).toMatch(/^runner-restarted/);
    const log = await events(sessionId);
    expect(log.filter((e) => e.type === 'turn-started')).toHaveLength(1);
    expect(log.filter((e) => e.type === 'turn-finished')).toHaveLength(1);
    // Exactly once and nothing skipped: the killed run is a prefix of the reference run.
    const got = normalise(log, s.turns[0]!.turnId);
    expect(got.length).toBeGreaterThan(5);
    const lastGot = got.length - 1;
    expect(got.slice(0, lastGot)).toEqual(expected.slice(0, lastGot));
    expect(expected[lastGot]!.startsWith(got[lastGot]!)).toBe(true); // a message cut mid-way
    // Nothing lost at the tail: the last event the dead runner stored is in the log.
    const last = unacked.at(-1)?.event;
    if (last?.type === 'text-delta') {
      expect(
        s.messages.find((m) => m.messageId === last.messageId)!.text.endsWith(last.delta),
      ).toBe(true);
    } else if (last) {
      expect(log.map(({ seq: _seq, at: _at, ...body }) => body)).toContainEqual(last);
    }
    const ids = s.toolCalls.map((t) => t.toolCallId);
    expect(new Set(ids).size).toBe(ids.length);
    console.log(`SIGKILL: ${unacked.length} unacknowledged event(s) in the outbox were resent`);
    expect(await daemon.stop()).toBe(0);
  });
});
