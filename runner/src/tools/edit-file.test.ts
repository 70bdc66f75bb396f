import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { editFileTool } from './edit-file';
import { ToolError } from './errors';
import { readFileTool } from './read-file';
import { createTestWorkspace, type TestWorkspace } from './test-workspace';
import { writeFileTool } from './write-file';

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await createTestWorkspace();
  await writeFile(path.join(ws.root, 'app.js'), 'let a = 1;\nlet b = 1;\nlet c = 2;\n');
});
afterEach(async () => {
  await ws.dispose();
});
const ctx = () => ({ workspace: ws.root, signal: new AbortController().signal });
const content = () => readFile(path.join(ws.root, 'app.js'), 'utf8');

describe('edit_file', () => {
  it('replaces a unique match and reports one replacement', async () => {
    const out = await editFileTool.execute(
      { path: 'app.js', oldString: 'let c = 2;', newString: 'let c = 3;' },
      ctx(),
    );
    expect(out).toEqual({ path: 'app.js', replacements: 1 });
    expect(await content()).toBe('let a = 1;\nlet b = 1;\nlet c = 3;\n');
  });

  it('fails with no-match, saying 0 matches, when the text is absent', async () => {
    const edit = editFileTool.execute(
      { path: 'app.js', oldString: 'let d = 4;', newString: 'x' },
      ctx(),
    );
    await expect(edit).rejects.toThrow(ToolError);
    await expect(edit).rejects.toMatchObject({ code: 'no-match', message: /0 matches/ });
    expect(await content()).toBe('let a = 1;\nlet b = 1;\nlet c = 2;\n');
  });

  it('fails with ambiguous-match, saying how many, and changes nothing', async () => {
    const edit = editFileTool.execute({ path: 'app.js', oldString: ' = 1;', newString: '' }, ctx());
    await expect(edit).rejects.toMatchObject({ code: 'ambiguous-match', message: /2 times/ });
    expect(await content()).toBe('let a = 1;\nlet b = 1;\nlet c = 2;\n');
  });

  it('replaces every match with replaceAll', async () => {
    const out = await editFileTool.execute(
      { path: 'app.js', oldString: '= 1', newString: '= $&', replaceAll: true },
      ctx(),
    );
    expect(out.replacements).toBe(2);
    // `$&` is literal text, not a replacement pattern.
    expect(await content()).toBe('let a = $&;\nlet b = $&;\nlet c = 2;\n');
  });

  it('fails with not-found for a missing file', async () => {
    await expect(
      editFileTool.execute({ path: 'nope.js', oldString: 'a', newString: 'b' }, ctx()),
    ).rejects.toMatchObject({ code: 'not-found' });
  });
});

describe('write_file and read_file', () => {
  it('writes a new file under new directories and reads it back', async () => {
    const written = await writeFileTool.execute(
      { path: 'src/deep/er/x.txt', content: 'héllo' },
      ctx(),
    );
    expect(written).toEqual({ path: 'src/deep/er/x.txt', bytes: 6 });
    expect(await readFileTool.execute({ path: 'src/deep/er/x.txt' }, ctx())).toBe('héllo');
  });

  it('refuses to read a directory or a missing file', async () => {
    await expect(readFileTool.execute({ path: 'src' }, ctx())).rejects.toMatchObject({
      code: 'not-a-file',
    });
    await expect(readFileTool.execute({ path: 'missing' }, ctx())).rejects.toMatchObject({
      code: 'not-found',
    });
  });
});
