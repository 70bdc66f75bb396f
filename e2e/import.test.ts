import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionState } from '@kiln/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportSummary } from '../runner/src/import/import-command.ts';
import {
  groupSessions,
  type ImportPlan,
  planImport,
  type ReadFile,
  readImportFile,
} from '../runner/src/import/plan.ts';
import { ROOT } from '../scripts/dev-stack.ts';
import { apiGet, FIXTURES, kiln, launchChromium, startTestStack } from './harness';

/**
 * The done-when check of `kiln import` against the real dev stack: a directory holding one
 * recording of every supported format becomes one session each, with every tool call, the
 * final todos, the text once, the recorded timing and a title; importing it again adds nothing.
 */

const AGENTS = join(ROOT, 'runner', 'src', 'agents');
const SIDECHAIN = join(AGENTS, 'claude-code', 'fixtures', 'sidechain');
const CLAUDE_SESSION = '4d5611e5-241a-462a-8d15-5122611a9569';

let stack: Awaited<ReturnType<typeof startTestStack>>;
let dir: string;
let browser: Browser | undefined;

beforeAll(async () => {
  stack = await startTestStack();
  dir = mkdtempSync(join(tmpdir(), 'kiln-import-'));
  cpSync(join(FIXTURES, 'claude-code-stream-json.jsonl'), join(dir, 'claude-stream.jsonl'));
  // A transcript whose last line was cut while Claude Code wrote it: counted, not fatal.
  const transcript = readFileSync(join(FIXTURES, 'claude-code-transcript.jsonl'), 'utf8');
  writeFileSync(join(dir, 'claude-transcript.jsonl'), `${transcript}{"type":"assist`);
  cpSync(join(FIXTURES, 'codex-exec-command.jsonl'), join(dir, 'codex-exec.jsonl'));
  mkdirSync(join(dir, 'sessions', '2025', '09', '24'), { recursive: true });
  cpSync(
    join(AGENTS, 'codex-rollout', 'fixtures', 'rollout-vscode-tools.jsonl'),
    join(dir, 'sessions', '2025', '09', '24', 'rollout-vscode-tools.jsonl'),
  );
  cpSync(join(AGENTS, 'openhands', 'fixtures', 'basic_interactions.json'), join(dir, 'oh.json'));
  cpSync(SIDECHAIN, join(dir, 'projects'), { recursive: true });
  writeFileSync(join(dir, 'settings.json'), '{"theme": "dark"}\n');
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** What the same files map to locally: the expected sessions, keyed by session id. */
function expectedPlans(projectId: string): Map<string, ImportPlan> {
  const files: ReadFile[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const read = readImportFile({ path, text: readFileSync(path, 'utf8') });
    if (!('error' in read)) files.push(read);
  }
  const plans = groupSessions(files).map((g) => planImport(g, projectId, (id) => `${id}:import`));
  return new Map(plans.map((p) => [p.sessionId, p]));
}

let lastRun: { summary: ImportSummary };

async function runImport(): Promise<ImportSummary> {
  const out = await kiln(stack, ['import', dir, '--project', stack.config.projectId, '--json']);
  const summary = JSON.parse(out.trim().split('\n').at(-1)!) as ImportSummary;
  lastRun = { summary };
  return summary;
}

describe('kiln import of a directory with one recording of each format', () => {
  it('creates one session per source session with every tool call, the todos, the text once, the recorded times and a title', async () => {
    const summary = await runImport();
    expect(summary.skipped).toEqual([
      { path: join(dir, 'settings.json'), error: 'unknown format' },
    ]);
    expect(summary.sessions.map((s) => s.format).sort()).toEqual([
      'claude-code',
      'claude-code',
      'claude-code',
      'codex',
      'codex-rollout',
      'openhands',
    ]);
    for (const s of summary.sessions) {
      expect(s.error).toBeUndefined();
      expect(s.newEvents).toBe(s.events);
    }
    const transcript = summary.sessions.find((s) => s.source.endsWith('claude-transcript.jsonl'));
    expect(transcript?.badLines).toBe(1);
    // The subagent's file joined its transcript's session rather than making one of its own.
    expect(summary.sessions.map((s) => s.source).filter((p) => p.includes(CLAUDE_SESSION))).toEqual(
      [join(dir, 'projects', `${CLAUDE_SESSION}.jsonl`)],
    );

    const plans = expectedPlans(stack.config.projectId);
    for (const s of summary.sessions) {
      const plan = plans.get(s.sessionId)!;
      const state = await apiGet<SessionState>(stack, `/api/sessions/${s.sessionId}/state`);
      expect(state.title, s.source).toBe(plan.title);
      expect(state.title.length).toBeGreaterThan(0);
      expect(state.toolCalls.map((c) => c.toolCallId)).toHaveLength(plan.toolCalls);
      const expectedCalls = plan.events.filter((e) => e.type === 'tool-input-available');
      expect(
        state.toolCalls.map((c) => [c.toolCallId, c.toolName, c.parentToolCallId ?? null]),
      ).toEqual(expectedCalls.map((e) => [e.toolCallId, e.toolName, e.parentToolCallId ?? null]));
      const outputs = new Map(
        plan.events.flatMap((e) => (e.type === 'tool-output-available' ? [[e.toolCallId, e]] : [])),
      );
      for (const call of state.toolCalls) {
        const output = outputs.get(call.toolCallId);
        expect(call.output ?? null).toEqual(output?.output ?? null);
        expect(call.isError).toBe(output?.isError ?? false);
      }
      // Every text delta lands once: the message texts are the deltas joined, no more.
      const text = new Map<string, string>();
      for (const e of plan.events)
        if (e.type === 'text-delta') text.set(e.messageId, (text.get(e.messageId) ?? '') + e.delta);
      for (const m of state.messages) expect(m.text).toBe(text.get(m.messageId) ?? '');
      // Turns keep the recording's times wherever it has them.
      const started = plan.events.filter((e) => e.type === 'turn-started');
      const finished = plan.events.filter((e) => e.type === 'turn-finished');
      state.turns.forEach((turn, i) => {
        if (started[i]?.recordedAt === undefined) return;
        expect(turn.startedAt).toBe(started[i]!.recordedAt);
        expect(turn.finishedAt).toBe(finished[i]!.recordedAt);
      });
    }

    // Anchors read from the fixtures themselves (shared/fixtures/recorded/README.md).
    const stream = summary.sessions.find((s) => s.source.endsWith('claude-stream.jsonl'))!;
    const streamState = await apiGet<SessionState>(
      stack,
      `/api/sessions/${stream.sessionId}/state`,
    );
    expect(streamState.toolCalls).toHaveLength(79);
    expect(streamState.toolCalls.filter((c) => c.isError)).toHaveLength(11);
    expect(streamState.toolCalls.filter((c) => c.parentToolCallId)).toHaveLength(19);
    expect(streamState.todos).toHaveLength(9);
    const sidechain = summary.sessions.find((s) => s.source.includes(CLAUDE_SESSION))!;
    const sidechainState = await apiGet<SessionState>(
      stack,
      `/api/sessions/${sidechain.sessionId}/state`,
    );
    expect(sidechainState.toolCalls.map((c) => c.parentToolCallId)).toEqual([
      undefined,
      'toolu_017pLRuPHYTX5t99EnLyV53m',
    ]);
    // The transcript's one turn took 26.2 s in the recording, not the import's milliseconds.
    expect(sidechainState.turns[0]).toMatchObject({
      startedAt: Date.parse('2026-02-12T16:02:25.284Z'),
      finishedAt: Date.parse('2026-02-12T16:02:51.467Z'),
    });
    const rollout = summary.sessions.find((s) => s.format === 'codex-rollout')!;
    const rolloutState = await apiGet<SessionState>(
      stack,
      `/api/sessions/${rollout.sessionId}/state`,
    );
    expect(rolloutState.todos.length).toBeGreaterThan(0);
  });

  it('run again, adds nothing; a title the person changed stays', async () => {
    const first = lastRun.summary;
    const renamed = first.sessions[0]!;
    const res = await fetch(
      `${stack.config.server}/api/projects/${stack.config.projectId}/sessions/${renamed.sessionId}`,
      {
        method: 'PATCH',
        headers: {
          Authorization: `Bearer ${stack.config.token}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ title: 'Renamed by a person' }),
      },
    );
    expect(res.status).toBe(204);
    const heads = new Map<string, number>();
    for (const s of first.sessions) {
      const state = await apiGet<SessionState>(stack, `/api/sessions/${s.sessionId}/state`);
      heads.set(s.sessionId, state.headSeq);
    }

    const again = await runImport();
    expect(again.sessions.map((s) => s.sessionId)).toEqual(first.sessions.map((s) => s.sessionId));
    for (const s of again.sessions) expect([s.newEvents, s.error]).toEqual([0, undefined]);
    for (const s of first.sessions) {
      const state = await apiGet<SessionState>(stack, `/api/sessions/${s.sessionId}/state`);
      expect(state.headSeq).toBe(heads.get(s.sessionId));
    }
    const { sessions } = await apiGet<{ sessions: { sessionId: string }[] }>(
      stack,
      `/api/projects/${stack.config.projectId}/sessions`,
    );
    expect(sessions).toHaveLength(first.sessions.length);
    const state = await apiGet<SessionState>(stack, `/api/sessions/${renamed.sessionId}/state`);
    expect(state.title).toBe('Renamed by a person');

    // Without --json the import ends with its summary table.
    const table = await kiln(stack, ['import', dir, '--project', stack.config.projectId]);
    expect(table).toContain('events (new)');
    expect(table).toMatch(/6 session\(s\)\s*│\s*│\s*\d+ \(0\)\s*│\s*\d+\s*│\s*2\s*│/);
  });
});

/** Drops `name` with `text` on the page's import zone, as a person dragging a file would. */
async function dropFile(page: Page, name: string, text: string): Promise<void> {
  await page.evaluate(
    ({ name, text }) => {
      const zone = document.querySelector('section[aria-label="Import a recording"]');
      if (!zone) throw new Error('no import zone');
      const data = new DataTransfer();
      data.items.add(new File([text], name));
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true }));
    },
    { name, text },
  );
}

describe('dropping a recording on the project page (Chromium)', () => {
  it('imports it as a session with its tool calls and title, and a second drop adds nothing', async () => {
    browser = await launchChromium();
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (error) => {
      throw error;
    });
    const projectPath = `/projects/${stack.config.projectId}`;
    await page.goto(
      `${stack.config.server}/sign-in?next=${encodeURIComponent(projectPath)}#token=${stack.config.token}`,
    );
    await page.waitForURL(`**${projectPath}`);
    const name = 'codex-exec-file-change.jsonl';
    const text = readFileSync(join(FIXTURES, name), 'utf8');
    await page.locator('section[aria-label="Import a recording"]').waitFor();

    await dropFile(page, name, text);
    await page.locator('[data-import-status="done"]').waitFor({ timeout: 60_000 });
    const href = await page.locator('[data-import-status="done"] a').getAttribute('href');
    const sessionId = href!.split('/').at(-1)!;
    const [plan] = groupSessions([read({ path: name, text })]).map((g) =>
      planImport(g, stack.config.projectId, (id) => `${id}:import`),
    );
    expect(sessionId).toBe(plan!.sessionId);
    const state = await apiGet<SessionState>(stack, `/api/sessions/${sessionId}/state`);
    expect(state.title).toBe('codex-exec-file-change');
    expect(state.headSeq).toBe(plan!.events.length);
    const failed = new Set(
      plan!.events.flatMap((e) =>
        e.type === 'tool-output-available' && e.isError ? [e.toolCallId] : [],
      ),
    );
    expect(state.toolCalls.map((c) => [c.toolCallId, c.toolName, c.isError])).toEqual(
      plan!.events.flatMap((e) =>
        e.type === 'tool-input-available'
          ? [[e.toolCallId, e.toolName, failed.has(e.toolCallId)]]
          : [],
      ),
    );
    expect(state.toolCalls.length).toBeGreaterThan(0);
    // The same session shows up in the live session list.
    await page
      .getByRole('link', { name: /codex-exec-file-change/ })
      .first()
      .waitFor();

    await dropFile(page, name, text);
    await page.getByText(/already imported, nothing new/).waitFor({ timeout: 60_000 });
    const again = await apiGet<SessionState>(stack, `/api/sessions/${sessionId}/state`);
    expect(again.headSeq).toBe(state.headSeq);
  });
});

function read(file: { path: string; text: string }): ReadFile {
  const result = readImportFile(file);
  if ('error' in result) throw new Error(result.error);
  return result;
}
