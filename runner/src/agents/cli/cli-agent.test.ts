import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claudeCodeAgent } from '../claude-code/claude-code-agent';
import { codexAgent } from '../codex/codex-agent';
import { ofType, RECORDED_DIR } from '../fixtures';
import { runTurn, tempWorkspace } from '../turn-harness';

/**
 * A stand-in for `claude`/`codex`: a real executable on a temp PATH that logs its argv and cwd,
 * prints a recorded run (FAKE_FIXTURE) line by line, then FAKE_APPEND, and with FAKE_HANG stays
 * alive (writing its pid) until it is killed.
 */
const FAKE_CLI = `#!/usr/bin/env node
const fs = require('node:fs');
fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), pid: process.pid, kilnToken: process.env.KILN_RUNNER_TOKEN ?? null }) + '\\n');
const text = fs.readFileSync(process.env.FAKE_FIXTURE, 'utf8');
const lines = text.split('\\n').filter(Boolean);
const cut = process.env.FAKE_HANG ? Number(process.env.FAKE_HANG) : lines.length;
process.stdout.write(lines.slice(0, cut).join('\\n') + '\\n');
if (process.env.FAKE_HANG) setInterval(() => {}, 1000);
else if (process.env.FAKE_APPEND) process.stdout.write(process.env.FAKE_APPEND + '\\n');
`;

let ws: Awaited<ReturnType<typeof tempWorkspace>>;
let bin: string;
let log: string;
beforeEach(async () => {
  ws = await tempWorkspace();
  bin = await mkdtemp(path.join(os.tmpdir(), 'kiln-fake-cli-'));
  log = path.join(bin, 'argv.log');
});
afterEach(async () => {
  await ws.dispose();
  await rm(bin, { recursive: true, force: true });
});

async function installFake(name: string): Promise<void> {
  const file = path.join(bin, name);
  await writeFile(file, FAKE_CLI);
  await chmod(file, 0o755);
}

function env(fixture: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    // The fake's shebang needs node; nothing else from the real PATH.
    PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}`,
    FAKE_LOG: log,
    FAKE_FIXTURE: fileURLToPath(new URL(fixture, RECORDED_DIR)),
    ...extra,
  };
}

async function calls(): Promise<
  { argv: string[]; cwd: string; pid: number; kilnToken: string | null }[]
> {
  return (await readFile(log, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

const CLAUDE_RESULT = JSON.stringify({
  type: 'result',
  subtype: 'success',
  is_error: false,
  duration_ms: 1234,
  result: 'done',
  session_id: '4c1e6987-e89d-4589-bbaa-fed8e333e06c',
});

describe('claude-code agent (a fake claude on PATH)', () => {
  it('runs claude -p in stream-json mode in the workspace, maps its output without turn edges, and checkpoints its session id', async () => {
    await installFake('claude');
    const agent = claudeCodeAgent({
      env: env('claude-code-stream-json.jsonl', {
        FAKE_APPEND: CLAUDE_RESULT,
        KILN_RUNNER_TOKEN: 'kiln_rt_secret',
      }),
    });
    expect(agent.unavailable()).toBeUndefined();
    const { events, state, checkpoint } = await runTurn(agent, {
      workspace: ws.root,
      prompt: 'write the tests',
    });
    const [call] = await calls();
    expect(call!.cwd).toBe(ws.root);
    expect(call!.kilnToken).toBeNull(); // the runner's own credential stays out of the CLI
    expect(call!.argv.slice(0, 5)).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--include-partial-messages',
      '--verbose',
    ]);
    expect(call!.argv.slice(-2)).toEqual(['--', 'write the tests']);
    expect(call!.argv).not.toContain('--resume');
    expect(ofType(events, 'turn-started')).toEqual([]);
    expect(ofType(events, 'turn-finished')).toEqual([]);
    // The recording's 79 tool calls, each once, all in the daemon's one turn.
    expect(ofType(events, 'tool-input-available')).toHaveLength(79);
    expect(state.turns).toHaveLength(1);
    expect(state.turns[0]!.status).toBe('completed');
    expect(state.todos.length).toBe(9);
    expect(checkpoint).toEqual({ version: 1, resumeId: '4c1e6987-e89d-4589-bbaa-fed8e333e06c' });

    // The next turn resumes that session.
    await runTurn(agent, { workspace: ws.root, prompt: 'now run them', checkpoint, turnId: 't2' });
    const second = (await calls())[1]!;
    expect(second.argv.slice(-3)).toEqual([
      '--resume=4c1e6987-e89d-4589-bbaa-fed8e333e06c',
      '--',
      'now run them',
    ]);
    // A checkpoint whose id is a flag is not resumed, and a prompt that looks like one stays text.
    await runTurn(agent, {
      workspace: ws.root,
      prompt: '--dangerously-skip-permissions',
      checkpoint: { version: 1, resumeId: '--dangerously-skip-permissions' },
      turnId: 't3',
    });
    const third = (await calls())[2]!;
    expect(third.argv.filter((a) => a.includes('dangerously'))).toEqual([
      '--dangerously-skip-permissions',
    ]);
    expect(third.argv.slice(-2)).toEqual(['--', '--dangerously-skip-permissions']);
    expect(third.argv.some((a) => a.startsWith('--resume'))).toBe(false);
  });

  it("passes the turn's permission mode to --permission-mode, and acceptEdits when the turn names none", async () => {
    await installFake('claude');
    const agent = claudeCodeAgent({
      env: env('claude-code-stream-json.jsonl', { FAKE_APPEND: CLAUDE_RESULT }),
    });
    await runTurn(agent, { workspace: ws.root, prompt: 'look', permissionMode: 'plan' });
    await runTurn(agent, { workspace: ws.root, prompt: 'build', turnId: 't2' });
    const modeOf = (argv: string[]) => argv[argv.indexOf('--permission-mode') + 1];
    const [planned, unset] = await calls();
    expect(modeOf(planned!.argv)).toBe('plan');
    expect(modeOf(unset!.argv)).toBe('acceptEdits');
    expect(unset!.argv).not.toContain('bypassPermissions');
  });

  it('fails the turn with an explanatory error when the run ends without a result', async () => {
    await installFake('claude');
    const agent = claudeCodeAgent({ env: env('claude-code-stream-json.jsonl') });
    const error = await runTurn(agent, { workspace: ws.root, prompt: 'x' }).catch((e) => e);
    expect(String(error)).toContain('claude ended without reporting a result');
    // Everything it did before is kept, and the checkpoint still lets the next turn resume.
    expect(error.run.state.toolCalls).toHaveLength(79);
    expect(error.run.state.turns[0].status).toBe('failed');
  });

  it('says why when claude is not on PATH: unavailable, and a failed turn naming the CLI', async () => {
    const agent = claudeCodeAgent({ env: env('claude-code-stream-json.jsonl') });
    expect(agent.unavailable()).toMatch(/needs the `claude` CLI on PATH/);
    const error = await runTurn(agent, { workspace: ws.root, prompt: 'x' }).catch((e) => e);
    expect(String(error)).toMatch(/needs the `claude` CLI on PATH/);
    expect(error.run.state.turns[0].status).toBe('failed');
  });

  it('kills the CLI within a second of an interrupt and ends the turn interrupted', async () => {
    await installFake('claude');
    const agent = claudeCodeAgent({
      env: env('claude-code-stream-json.jsonl', { FAKE_HANG: '20' }),
    });
    const abort = new AbortController();
    let abortedAt = 0;
    const run = runTurn(agent, { workspace: ws.root, prompt: 'x', signal: abort.signal }, (e) => {
      // Interrupt once the CLI is visibly mid-run (its first tool call arrived).
      if (e.type === 'tool-input-available' && !abort.signal.aborted) {
        abortedAt = performance.now();
        abort.abort();
      }
    });
    const { state } = await run;
    const latency = performance.now() - abortedAt;
    expect(abortedAt).toBeGreaterThan(0);
    expect(state.turns[0]!.status).toBe('interrupted');
    expect(latency).toBeLessThan(1000);
    const { pid } = (await calls())[0]!;
    expect(() => process.kill(pid, 0)).toThrow(); // the process is gone
  });
});

describe('codex agent (a fake codex on PATH)', () => {
  it('maps each permission mode to a sandbox: default and plan read only, bypassPermissions full access', async () => {
    await installFake('codex');
    const agent = codexAgent({ env: env('codex-exec-command.jsonl') });
    for (const permissionMode of ['default', 'plan', 'acceptEdits', 'bypassPermissions'] as const) {
      await runTurn(agent, { workspace: ws.root, prompt: 'list files', permissionMode });
    }
    const sandboxes = (await calls()).map(({ argv }) => argv[argv.indexOf('--sandbox') + 1]);
    expect(sandboxes).toEqual(['read-only', 'read-only', 'workspace-write', 'danger-full-access']);
  });

  it('runs codex exec --json, maps items with turn-scoped ids, and resumes the thread next turn', async () => {
    await installFake('codex');
    const agent = codexAgent({ env: env('codex-exec-command.jsonl') });
    const first = await runTurn(agent, { workspace: ws.root, prompt: 'list files', turnId: 't1' });
    expect((await calls())[0]!.argv.slice(0, 2)).toEqual(['exec', '--json']);
    expect(first.state.turns[0]!.status).toBe('completed');
    expect(ofType(first.events, 'turn-started')).toEqual([]);
    const tools = ofType(first.events, 'tool-input-available');
    expect(tools.length).toBeGreaterThan(0);
    expect(tools.every((t) => t.toolCallId.startsWith('t1:'))).toBe(true);
    expect(ofType(first.events, 'usage').length).toBe(1);
    expect(first.checkpoint).toEqual({
      version: 1,
      resumeId: '019a2d7b-7fb8-78e1-8cfa-5bdbe274a3aa',
    });
    const second = await runTurn(agent, {
      workspace: ws.root,
      prompt: 'again',
      turnId: 't2',
      checkpoint: first.checkpoint,
    });
    const argv = (await calls())[1]!.argv;
    expect(argv.slice(-4)).toEqual([
      'resume',
      '--',
      '019a2d7b-7fb8-78e1-8cfa-5bdbe274a3aa',
      'again',
    ]);
    expect((await calls())[0]!.argv.slice(-2)).toEqual(['--', 'list files']);
    // No mode: writes inside the workspace only.
    expect((await calls())[0]!.argv.slice(3, 5)).toEqual(['--sandbox', 'workspace-write']);
    // Same recorded item ids, different turns: no collision.
    const ids = ofType(second.events, 'tool-input-available').map((t) => t.toolCallId);
    expect(ids.every((id) => id.startsWith('t2:'))).toBe(true);
  });
});
