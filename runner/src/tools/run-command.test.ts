import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandEnv } from './command-env';
import { ToolError } from './errors';
import { COMMAND_OUTPUT_LIMIT_BYTES, runCommandTool } from './run-command';
import { sandboxPath } from './sandbox';
import {
  createTestWorkspace,
  exitsWithin,
  processesWithArg,
  type TestWorkspace,
  waitForFile,
} from './test-workspace';

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await createTestWorkspace();
});
afterEach(async () => {
  await ws.dispose();
});
const ctx = (signal = new AbortController().signal) => ({ workspace: ws.root, signal });
const node = (script: string, extra: { timeoutMs?: number; cwd?: string } = {}) => ({
  command: 'node',
  args: ['-e', script],
  ...extra,
});

describe('run_command', () => {
  it('runs a program without a shell in the workspace and returns its exit code and output', async () => {
    const result = await runCommandTool.execute(
      { command: 'node', args: ['-e', 'console.log(process.cwd()); process.exit(3)'], cwd: 'src' },
      ctx(),
    );
    expect(result).toMatchObject({ exitCode: 3, stdout: `${ws.root}/src\n`, truncated: false });
    expect(runCommandTool.isError?.(result)).toBe(true);
    // No shell: the argument is one argv entry, not a command line.
    const echo = await runCommandTool.execute({ command: 'echo', args: ['$HOME && ls'] }, ctx());
    expect(echo.stdout).toBe('$HOME && ls\n');
  });

  it('kills a command that outlives its timeout, with its whole process group', async () => {
    const started = performance.now();
    const run = runCommandTool.execute(
      node(
        `require('child_process').spawn(process.execPath, ['-e', 'setTimeout(()=>{},60000)'], {stdio: 'inherit'}); setTimeout(()=>{},60000)`,
        { timeoutMs: 300 },
      ),
      ctx(),
    );
    await expect(run).rejects.toMatchObject({ code: 'timeout', message: /within 300 ms/ });
    // The grandchild holds stdout open; `close` only fires once the group is dead.
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('kills the running command within a second when the signal aborts', async () => {
    const controller = new AbortController();
    const marker = `kiln-abort-${process.pid}-${Date.now()}`;
    const run = runCommandTool.execute(
      {
        command: 'node',
        args: [
          '-e',
          `require('fs').writeFileSync('ready.txt', 'y'); setTimeout(()=>{},60000)`,
          marker,
        ],
      },
      ctx(controller.signal),
    );
    await waitForFile(path.join(ws.root, 'ready.txt'));
    // Its pid inside the sandbox is not the host's: find it by its marker argument.
    const [pid] = processesWithArg(marker);
    expect(pid).toBeDefined();
    const started = performance.now();
    controller.abort();
    await expect(run).rejects.toMatchObject({ code: 'aborted' });
    expect(performance.now() - started).toBeLessThan(1_000);
    // `close` fires when the pipes close, which the kernel does just before the process is a zombie.
    expect(await exitsWithin(pid!, 1_000)).toBe(true);
  });

  it('caps output over 32 KiB, keeping its head and tail, and says it was truncated', async () => {
    const result = await runCommandTool.execute(
      node(`process.stdout.write('BEGIN' + 'x'.repeat(200000) + 'END')`),
      ctx(),
    );
    expect(result.truncated).toBe(true);
    expect(result.exitCode).toBe(0);
    expect(Buffer.byteLength(result.stdout)).toBeLessThanOrEqual(COMMAND_OUTPUT_LIMIT_BYTES);
    expect(result.stdout.startsWith('BEGIN')).toBe(true);
    expect(result.stdout.endsWith('END')).toBe(true);
    expect(result.stdout).toMatch(/bytes cut/);
  });

  it('passes only allow-listed variables, with HOME set to the workspace', async () => {
    process.env.KILN_TEST_API_KEY = 'sk-should-not-leak';
    process.env.GITHUB_TOKEN = 'ghp-should-not-leak';
    process.env.KILN_TEST_PLAIN = 'not allow-listed';
    try {
      const result = await runCommandTool.execute(
        node('console.log(JSON.stringify(process.env))'),
        ctx(),
      );
      const env = JSON.parse(result.stdout) as Record<string, string>;
      expect(env.HOME).toBe(ws.root);
      expect(env.PATH).toBe(sandboxPath());
      expect(result.stdout).not.toMatch(/should-not-leak/);
      expect(env.KILN_TEST_PLAIN).toBeUndefined();
      for (const name of Object.keys(env)) {
        expect(name).not.toMatch(/KEY|TOKEN|SECRET|PASSWORD/i);
      }
    } finally {
      delete process.env.KILN_TEST_API_KEY;
      delete process.env.GITHUB_TOKEN;
      delete process.env.KILN_TEST_PLAIN;
    }
  });

  it('never passes a secret-looking variable even if it is on the allow-list', () => {
    const env = commandEnv('/w', {
      PATH: '/bin',
      TERM: 'xterm',
      NODE_ENV: 'test',
      AWS_SECRET: 's',
    });
    expect(env).toMatchObject({ PATH: '/bin', TERM: 'xterm', NODE_ENV: 'test', HOME: '/w' });
    expect(Object.values(env)).not.toContain('s');
  });

  it('fails with spawn-failed for a program that does not exist', async () => {
    const run = runCommandTool.execute({ command: 'kiln-no-such-program' }, ctx());
    await expect(run).rejects.toBeInstanceOf(ToolError);
    await expect(run).rejects.toMatchObject({ code: 'spawn-failed' });
  });
});
