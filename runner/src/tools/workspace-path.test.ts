import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { editFileTool } from './edit-file';
import { ToolError } from './errors';
import { listFilesTool } from './list-files';
import { readFileTool } from './read-file';
import { runCommandTool } from './run-command';
import { createTestWorkspace, type TestWorkspace } from './test-workspace';
import { resolveInWorkspace } from './workspace-path';
import { writeFileTool } from './write-file';

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await createTestWorkspace();
});
afterEach(async () => {
  await ws.dispose();
});

const signal = new AbortController().signal;
const ctx = () => ({ workspace: ws.root, signal });

/** Each hostile path and the error code it must produce. */
const hostile = (): [string, string, string][] => [
  ['dot-dot', '../outside/secret.txt', 'path-outside-workspace'],
  ['nested dot-dot', 'src/../../outside/secret.txt', 'path-outside-workspace'],
  ['absolute outside', path.join(ws.outside, 'secret.txt'), 'path-outside-workspace'],
  ['absolute system file', '/etc/passwd', 'path-outside-workspace'],
  ['symlinked file out', 'secret-link.txt', 'path-outside-workspace'],
  ['through a symlinked dir', 'link-out/secret.txt', 'path-outside-workspace'],
  ['new file under a symlinked dir', 'link-out/new/evil.txt', 'path-outside-workspace'],
  ['NUL byte', 'hello.txt\0.png', 'path-invalid'],
  ['very long', `${'a/'.repeat(3000)}x`, 'path-invalid'],
  ['long segment', 'x'.repeat(300), 'path-invalid'],
  ['empty', '', 'path-invalid'],
];

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ToolError);
    return (error as ToolError).code;
  }
  return 'resolved';
}

describe('resolveInWorkspace', () => {
  it('resolves relative and absolute paths inside the workspace, existing or not', async () => {
    expect(await resolveInWorkspace(ws.root, 'hello.txt')).toEqual({
      absolute: path.join(ws.root, 'hello.txt'),
      relative: 'hello.txt',
      exists: true,
    });
    expect(await resolveInWorkspace(ws.root, path.join(ws.root, 'src/a/b.ts'))).toMatchObject({
      relative: 'src/a/b.ts',
      exists: false,
    });
    expect((await resolveInWorkspace(ws.root, 'src/..')).relative).toBe('.');
    expect((await resolveInWorkspace(ws.root, '..name')).relative).toBe('..name');
  });

  it('refuses every hostile path with a clear error', async () => {
    for (const [, input, code] of hostile()) {
      expect(await codeOf(resolveInWorkspace(ws.root, input)), input.slice(0, 60)).toBe(code);
    }
  });
});

describe('every tool refuses hostile paths', () => {
  it('read_file refuses them and never returns the secret', async () => {
    for (const [name, input, code] of hostile()) {
      expect(await codeOf(readFileTool.execute({ path: input }, ctx())), name).toBe(code);
    }
  });

  it('write_file refuses them and writes nothing outside', async () => {
    for (const [name, input, code] of hostile()) {
      expect(
        await codeOf(writeFileTool.execute({ path: input, content: 'pwned' }, ctx())),
        name,
      ).toBe(code);
    }
    expect(await readFile(path.join(ws.outside, 'secret.txt'), 'utf8')).toBe('top secret\n');
  });

  it('edit_file refuses them and leaves the outside file alone', async () => {
    for (const [name, input, code] of hostile()) {
      const edit = { path: input, oldString: 'top', newString: 'pwned' };
      expect(await codeOf(editFileTool.execute(edit, ctx())), name).toBe(code);
    }
    expect(await readFile(path.join(ws.outside, 'secret.txt'), 'utf8')).toBe('top secret\n');
  });

  it('list_files refuses them and does not follow symlinks while walking', async () => {
    for (const [name, input, code] of hostile()) {
      expect(await codeOf(listFilesTool.execute({ path: input }, ctx())), name).toBe(code);
    }
    expect(await codeOf(listFilesTool.execute({ path: 'link-out' }, ctx()))).toBe(
      'path-outside-workspace',
    );
    const listed = await listFilesTool.execute({}, ctx());
    expect(listed.entries).toEqual(['hello.txt', 'link-out', 'secret-link.txt', 'src/']);
  });

  it('run_command refuses hostile working directories and path arguments', async () => {
    for (const [name, input, code] of hostile()) {
      expect(
        await codeOf(runCommandTool.execute({ command: 'node', args: ['-v'], cwd: input }, ctx())),
        `cwd ${name}`,
      ).toBe(code);
    }
    const args = (a: string[]) => runCommandTool.execute({ command: 'cat', args: a }, ctx());
    expect(await codeOf(args(['/etc/passwd']))).toBe('path-outside-workspace');
    expect(await codeOf(args(['../outside/secret.txt']))).toBe('path-outside-workspace');
    expect(await codeOf(args(['--file=/etc/passwd']))).toBe('path-outside-workspace');
    expect(await codeOf(args(['hello.txt\0']))).toBe('path-invalid');
    expect(await codeOf(runCommandTool.execute({ command: '../outside/x' }, ctx()))).toBe(
      'path-outside-workspace',
    );
    expect((await args([path.join(ws.root, 'hello.txt')])).stdout).toBe('hello\n');
  });
});
