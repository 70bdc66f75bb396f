import { readFileSync } from 'node:fs';
import { link, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { editFileTool } from './edit-file';
import { runCommandTool } from './run-command';
import { sandboxUnavailable } from './sandbox';
import {
  createTestWorkspace,
  exitsWithin,
  processesWithArg,
  type TestWorkspace,
  waitForFile,
} from './test-workspace';
import { writeFileTool } from './write-file';

// The escapes of the issue-16 audit, each run for real. They need bwrap (installed by .ci/run).
let ws: TestWorkspace;
beforeEach(async () => {
  ws = await createTestWorkspace();
});
afterEach(async () => {
  await ws.dispose();
});
const ctx = (signal = new AbortController().signal) => ({ workspace: ws.root, signal });
const sh = (script: string, timeoutMs?: number) => ({
  command: 'sh',
  args: ['-c', script],
  ...(timeoutMs ? { timeoutMs } : {}),
});

describe('run_command in the sandbox', () => {
  it('has a sandbox here (bwrap installed, namespaces allowed)', () => {
    expect(sandboxUnavailable()).toBeUndefined();
  });

  it('a shell cannot read files outside the workspace, nor glued options reach them', async () => {
    const cat = await runCommandTool.execute(sh(`cat ${ws.outside}/secret.txt`), ctx());
    expect(cat.exitCode).not.toBe(0);
    expect(cat.stdout).not.toContain('top secret');
    // `-C/outside` slips past the argument guard (it is not `--flag=`); the mount is what stops it.
    const tar = await runCommandTool.execute(
      { command: 'tar', args: [`-C${ws.outside}`, '-cf', '-', 'secret.txt'] },
      ctx(),
    );
    expect(tar.exitCode).not.toBe(0);
    expect(tar.stdout).not.toContain('top secret');
    // The workspace itself is writable, by path and through the shell.
    const write = await runCommandTool.execute(sh('echo made > made.txt && cat made.txt'), ctx());
    expect(write).toMatchObject({ exitCode: 0, stdout: 'made\n' });
    expect(await readFile(path.join(ws.root, 'made.txt'), 'utf8')).toBe('made\n');
  });

  it("cannot read the runner's environment through /proc", async () => {
    const own = readFileSync('/proc/self/environ', 'utf8').split('\0').filter(Boolean);
    const result = await runCommandTool.execute(
      sh(`cat /proc/$PPID/environ; cat /proc/${process.pid}/environ; ls /proc`),
      ctx(),
    );
    // Only what commandEnv passes on (PATH, LANG, TERM…) may be the same; nothing else of ours.
    const passed = /^(PATH|HOME|LANG|LC_ALL|LC_CTYPE|TERM|TZ|NODE_ENV)=/;
    // Whole entries, not substrings: an empty `npm_config_fund=` of ours is a prefix of the
    // `npm_config_fund=false` that commandEnv sets on purpose.
    const seen = new Set(result.stdout.split(/[\0\n]/));
    const leaked = own.filter((entry) => !passed.test(entry) && seen.has(entry));
    expect(leaked).toEqual([]);
    expect(own.length).toBeGreaterThan(5);
  });

  it('kills a setsid background process with the command on timeout and on abort', async () => {
    // The background shell carries the marker as its $0 and is alive when it writes ready.txt
    // (`; true` keeps it from exec-ing sleep, so the marker stays in its argv).
    const marker = `kiln-setsid-${process.pid}`;
    const background = (m: string, ready: string) =>
      `setsid sh -c 'echo started > ${ready}; sleep 600; true' ${m} & wait`;
    const timedOut = runCommandTool.execute(sh(background(marker, 'ready.txt'), 2_000), ctx());
    await waitForFile(path.join(ws.root, 'ready.txt'));
    const [sleeper] = processesWithArg(marker);
    expect(sleeper).toBeDefined();
    try {
      await expect(timedOut).rejects.toMatchObject({ code: 'timeout' });
      expect(await exitsWithin(sleeper!, 2_000)).toBe(true);
    } finally {
      for (const pid of processesWithArg(marker)) process.kill(pid, 'SIGKILL');
    }

    const controller = new AbortController();
    const aborted = runCommandTool.execute(
      sh(background(`${marker}1`, 'ready2.txt')),
      ctx(controller.signal),
    );
    await waitForFile(path.join(ws.root, 'ready2.txt'));
    const [second] = processesWithArg(`${marker}1`);
    expect(second).toBeDefined();
    try {
      controller.abort();
      await expect(aborted).rejects.toMatchObject({ code: 'aborted' });
      expect(await exitsWithin(second!, 2_000)).toBe(true);
    } finally {
      for (const pid of processesWithArg(`${marker}1`)) process.kill(pid, 'SIGKILL');
    }
  });

  it('refuses where no sandbox can be made, unless unsandboxed commands are allowed', async () => {
    process.env.KILN_BWRAP = path.join(ws.root, 'no-such-bwrap');
    try {
      await expect(runCommandTool.execute(sh('echo hi'), ctx())).rejects.toMatchObject({
        code: 'sandbox-unavailable',
        message: /--allow-unsandboxed-commands/,
      });
      const allowed = await runCommandTool.execute(sh('echo hi'), {
        ...ctx(),
        unsandboxedCommands: true,
      });
      expect(allowed).toMatchObject({ exitCode: 0, stdout: 'hi\n' });
    } finally {
      delete process.env.KILN_BWRAP;
    }
  });
});

describe('write_file and edit_file do not follow links out of the workspace', () => {
  it('refuse a hard link to an outside file, which stays unchanged', async () => {
    await link(path.join(ws.outside, 'secret.txt'), path.join(ws.root, 'hard.txt'));
    await expect(
      writeFileTool.execute({ path: 'hard.txt', content: 'overwritten' }, ctx()),
    ).rejects.toMatchObject({ code: 'link-refused' });
    await expect(
      editFileTool.execute({ path: 'hard.txt', oldString: 'top', newString: 'no' }, ctx()),
    ).rejects.toMatchObject({ code: 'link-refused' });
    expect(await readFile(path.join(ws.outside, 'secret.txt'), 'utf8')).toBe('top secret\n');
  });

  it('refuse symlinks that point out, for the file and for its directory', async () => {
    for (const target of ['secret-link.txt', 'link-out/secret.txt', 'link-out/new.txt']) {
      await expect(
        writeFileTool.execute({ path: target, content: 'overwritten' }, ctx()),
      ).rejects.toMatchObject({ code: 'path-outside-workspace' });
    }
    expect(await readFile(path.join(ws.outside, 'secret.txt'), 'utf8')).toBe('top secret\n');
  });
});
