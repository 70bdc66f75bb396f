import { readFileSync } from 'node:fs';
import { ingestEvent } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { RECORDED_DIR, reduceBodies } from '../agents/fixtures';
import { groupSessions, type ImportFile, planImport, type ReadFile, readImportFile } from './plan';

const SIDECHAIN = new URL('../agents/claude-code/fixtures/sidechain/', import.meta.url);
const SESSION = '4d5611e5-241a-462a-8d15-5122611a9569';
const MAIN = `${SESSION}.jsonl`;
const SUBAGENT = `${SESSION}/subagents/agent-a2898e3.jsonl`;
const TASK_ID = 'toolu_017pLRuPHYTX5t99EnLyV53m';

function file(base: URL, path: string): ImportFile {
  return { path, text: readFileSync(new URL(path, base), 'utf8') };
}

function read(f: ImportFile): ReadFile {
  const read = readImportFile(f);
  if ('error' in read) throw new Error(read.error);
  return read;
}

const buildId = (sessionId: string) => `${sessionId}:import`;

describe('planning the import of a Claude Code transcript with a subagent file', () => {
  const files = [read(file(SIDECHAIN, SUBAGENT)), read(file(SIDECHAIN, MAIN))];
  const groups = groupSessions(files);
  const plan = planImport(groups[0]!, 'project-1', buildId);

  it('makes one session of the transcript and its subagent’s file, main file first', () => {
    expect(groups).toHaveLength(1);
    expect(groups[0]!.map((f) => f.path)).toEqual([MAIN, SUBAGENT]);
    expect(plan.sourceKey).toBe(SESSION);
  });

  it('files the subagent’s calls under the Task call whose prompt opened its sidechain', () => {
    const state = reduceBodies(plan.events);
    expect(state.toolCalls.map((c) => [c.toolCallId, c.toolName, c.parentToolCallId])).toEqual([
      [TASK_ID, 'Task', undefined],
      ['toolu_01HaEX6WGRyK8yccb6knr31H', 'Read', TASK_ID],
    ]);
    // The subagent's prompt is not a prompt of the session: one turn, opened by the person's.
    expect(state.turns).toHaveLength(1);
    expect(state.messages.map((m) => m.text)).toEqual([
      'Let me explore the current codebase to understand the existing patterns before implementing.',
      "I'll conduct a thorough exploration of the transcript rendering system. Let me read all the key files you've specified.",
    ]);
  });

  it('titles the session by its first prompt and stamps every event with its line’s time', () => {
    expect(plan.title).toBe(
      'Work on bead spotter-dov. Run bd show spotter-dov to see the issue details and …',
    );
    expect(plan.events[0]).toMatchObject({ type: 'session-renamed', title: plan.title });
    for (const event of plan.events) expect(ingestEvent.safeParse(event).success).toBe(true);
    const times = plan.events.map((e) => e.recordedAt);
    expect(times[0]).toBe(Date.parse('2026-02-12T16:02:25.284Z'));
    expect(times.at(-1)).toBe(Date.parse('2026-02-12T16:02:51.467Z'));
    expect([...times].sort((a, b) => a! - b!)).toEqual(times);
    // The turn starts at its prompt, not at its first output line (16:02:42.450).
    const started = plan.events.find((e) => e.type === 'turn-started');
    expect(started?.recordedAt).toBe(Date.parse('2026-02-12T16:02:25.284Z'));
  });

  it('gives the same session id and events every time, for the same project only', () => {
    const again = planImport(groupSessions(files)[0]!, 'project-1', buildId);
    expect(again.sessionId).toBe(plan.sessionId);
    expect(again.events).toEqual(plan.events);
    expect(planImport(groups[0]!, 'project-2', buildId).sessionId).not.toBe(plan.sessionId);
  });

  it('maps a file that grew to the same events first', () => {
    const main = file(SIDECHAIN, MAIN);
    const lines = main.text.trimEnd().split('\n');
    const cut = read({ path: MAIN, text: `${lines.slice(0, 2).join('\n')}\n{"cut` });
    expect(cut.badLines).toBe(1);
    const shorter = planImport([cut], 'project-1', buildId);
    const whole = planImport([read(main)], 'project-1', buildId);
    // The shorter file's open message and turn end at its end; the whole file's go on.
    const stable = shorter.events.length - 3;
    expect(whole.events.slice(0, stable)).toEqual(shorter.events.slice(0, stable));
  });
});

describe('planning the import of a transcript with a summary line', () => {
  it('titles the session by Claude Code’s summary rather than the first prompt', () => {
    // No public transcript with a `summary` line was found; the line is written as Claude Code
    // writes them (`{type, summary, leafUuid}`), ahead of a real transcript.
    const transcript = file(RECORDED_DIR, 'claude-code-transcript.jsonl');
    const summary = '{"type":"summary","summary":"Plan the React refactor","leafUuid":"x"}\n';
    const withSummary = read({ path: 'a.jsonl', text: summary + transcript.text });
    const plan = planImport([withSummary], 'p', buildId);
    expect(plan.title).toBe('Plan the React refactor');
    expect(plan.prompt).toBeUndefined();
    const plain = planImport([read(transcript)], 'p', buildId);
    expect(plain.title).not.toBe('Plan the React refactor');
    expect(plain.prompt).toBeDefined();
    // The summary line adds no event: both map to the same events after the title.
    expect(plan.events.slice(1)).toEqual(plain.events.slice(1));
  });
});

describe('planning imports of the other formats', () => {
  it('keys an OpenHands trajectory by its file name and a Codex run by its thread id', () => {
    const openhands = read({
      path: 'trajectories/basic_interactions.json',
      text: readFileSync(
        new URL('../agents/openhands/fixtures/basic_interactions.json', import.meta.url),
        'utf8',
      ),
    });
    expect(planImport([openhands], 'p', buildId).sourceKey).toBe('basic_interactions');
    const codex = read(file(RECORDED_DIR, 'codex-exec-command.jsonl'));
    const plan = planImport([codex], 'p', buildId);
    expect(plan.sourceKey).toMatch(/^[0-9a-f-]{36}$/);
    // Codex exec output holds no prompt: the file names the session.
    expect(plan.title).toBe('codex-exec-command');
  });

  it('reports a file of no known format instead of guessing', () => {
    expect(readImportFile({ path: 'notes.json', text: '{"hello": 1}' })).toEqual({
      path: 'notes.json',
      error: 'unknown format',
    });
  });
});
