import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sessionState } from '@kiln/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClaudeCodeMapper } from './agents/claude-code/mapper';
import { RECORDED_DIR, readFixture, reduceBodies } from './agents/fixtures';
import { mapRecording } from './agents/mapper';
import { FakeKilnServer } from './testing/fake-kiln-server';

/** The CLI as a real child process, through the package's bin launcher. */

const BIN = fileURLToPath(new URL('../bin/kiln.js', import.meta.url));
const STREAM_JSON = fileURLToPath(new URL('claude-code-stream-json.jsonl', RECORDED_DIR));

let server: FakeKilnServer;
/** An empty directory, so no `.kiln/dev.json` above the checkout is picked up. */
let cwd: string;

beforeEach(async () => {
  server = new FakeKilnServer();
  await server.start();
  cwd = mkdtempSync(join(tmpdir(), 'kiln-cli-'));
});

afterEach(() => server.stop());

function kiln(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.KILN_SERVER;
  delete env.KILN_TOKEN;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const auth = () => ['--server', server.origin, '--token', server.token];

describe('kiln replay', () => {
  it('streams every event of a recording at max speed and prints one JSON line', async () => {
    const result = await kiln([
      'replay',
      STREAM_JSON,
      '--speed',
      'max',
      '--json',
      '--project',
      'p1',
      '--session',
      'sess-1',
      ...auth(),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const expected = mapRecording(
      new ClaudeCodeMapper({ buildId: 'build-1', producerId: 'kiln-replay' }),
      readFixture('claude-code-stream-json.jsonl'),
    );
    expect(JSON.parse(result.stdout)).toEqual({
      sessionId: 'sess-1',
      projectId: 'p1',
      url: `${server.origin}/s/sess-1`,
      events: expected.length,
      turns: 1,
    });
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(server.leases).toEqual(['p1/sess-1']);
    expect(server.committed).toEqual(expected);
    const state = reduceBodies(server.committed);
    expect(state.toolCalls).toHaveLength(79);
    expect(state.todos).toHaveLength(9);
  });

  it('prints the session id and its web address without --json', async () => {
    const result = await kiln([
      'replay',
      STREAM_JSON,
      '--speed',
      'max',
      '--project',
      'p1',
      '--session',
      'sess-2',
      ...auth(),
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('session sess-2');
    expect(result.stdout).toContain(`${server.origin}/s/sess-2`);
  });

  it('exits 1 with the server’s reason when the token is refused', async () => {
    const result = await kiln([
      'replay',
      STREAM_JSON,
      '--speed',
      'max',
      '--project',
      'p1',
      '--server',
      server.origin,
      '--token',
      'nope',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/401.*bad token/);
    expect(server.committed).toHaveLength(0);
  });

  it('exits 1 when the project does not exist', async () => {
    const result = await kiln(['replay', STREAM_JSON, '--project', 'missing', ...auth()]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/404.*no such project/);
  });

  it('exits 1 on a file it cannot read or whose format it does not know', async () => {
    const missing = await kiln(['replay', join(cwd, 'nope.jsonl'), '--project', 'p1', ...auth()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read');
    const other = join(cwd, 'other.jsonl');
    writeFileSync(other, '{"kind":"something else"}\n');
    const unknown = await kiln(['replay', other, '--project', 'p1', ...auth()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown format');
  });

  it('says how to configure the server when none is given', async () => {
    const result = await kiln(['replay', STREAM_JSON, '--project', 'p1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('KILN_SERVER');
  });

  it('refuses a speed that is not a positive number or max', async () => {
    const result = await kiln(['replay', STREAM_JSON, '--speed', 'fast', ...auth()]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--speed');
  });
});

describe('kiln watch --json', () => {
  it('prints the final state once the replayed session is no longer active, resyncing after a gap', async () => {
    const replayed = await kiln([
      'replay',
      STREAM_JSON,
      '--speed',
      'max',
      '--json',
      '--project',
      'p1',
      '--session',
      's1',
      ...auth(),
    ]);
    expect(replayed.code).toBe(0);
    server.skipOnceInReplay = true;
    const result = await kiln(['watch', 's1', '--json', ...auth()]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    const state = sessionState.parse(JSON.parse(result.stdout));
    expect(state.headSeq).toBe(server.committed.length);
    expect(state.toolCalls).toHaveLength(79);
    expect(state.toolCalls.filter((t) => t.isError)).toHaveLength(11);
    expect(state.turns.map((t) => t.status)).toEqual(['interrupted']);
    expect(state.status).toBe('interrupted');
    // The first replay skipped seq 2, so the client said hello again from seq 1.
    expect(server.hellos).toEqual([0, 1]);
  });

  it('exits 1 when the server refuses the token', async () => {
    const result = await kiln([
      'watch',
      's1',
      '--json',
      '--server',
      server.origin,
      '--token',
      'nope',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/401/);
  });
});
