import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type ArtifactFile,
  commitVersionRequest,
  MAX_ARTIFACT_FILE_BYTES,
  missingBlobsRequest,
} from '@kiln/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ServerError } from '../net/errors';
import { ArtifactError, collectArtifacts, uploadArtifacts } from './artifact-upload';

const TOKEN = 'kiln_rt_test';

/**
 * The three runner routes of PROTOCOL.md §10 over node:http: blobs in memory, bodies validated with
 * the protocol's schemas, a blob refused when its bytes do not hash to its name, a commit refused
 * while a blob is missing, and 403 for any build but `leased`.
 */
async function artifactServer() {
  const blobs = new Map<string, Buffer>();
  const puts: string[] = [];
  const versions: ArtifactFile[][] = [];
  const body = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const server: Server = createServer(async (req, res) => {
    const json = (status: number, value: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    const refuse = (status: number, code: string, message: string) =>
      json(status, { error: { code, message } });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return refuse(401, 'unauthorized', 'no');
    const match =
      /^\/api\/builds\/([^/]+)\/artifacts\/(missing|versions|blobs\/([0-9a-f]{64}))$/.exec(
        req.url ?? '',
      );
    if (!match) return refuse(404, 'not-found', 'no route');
    if (match[1] !== 'leased')
      return refuse(403, 'forbidden', 'this build is not leased to this runner');
    const bytes = await body(req);
    if (req.method === 'POST' && match[2] === 'missing') {
      const { hashes } = missingBlobsRequest.parse(JSON.parse(bytes.toString()));
      return json(200, { missing: hashes.filter((h) => !blobs.has(h)) });
    }
    if (req.method === 'PUT' && match[3]) {
      if (createHash('sha256').update(bytes).digest('hex') !== match[3]) {
        return refuse(400, 'bad-request', 'hash mismatch');
      }
      blobs.set(match[3], bytes);
      puts.push(match[3]);
      return res.writeHead(204).end();
    }
    if (req.method === 'POST' && match[2] === 'versions') {
      const { turnId, files } = commitVersionRequest.parse(JSON.parse(bytes.toString()));
      if (files.some((f) => !blobs.has(f.hash))) return refuse(409, 'conflict', 'blob missing');
      versions.push(files);
      const version = versions.length;
      return json(201, {
        version,
        sessionId: 's1',
        turnId,
        files: files.length,
        bytes: files.reduce((n, f) => n + f.size, 0),
        createdAt: Date.now(),
        url: `http://apps.test/p/project/${version}/`,
      });
    }
    return refuse(404, 'not-found', 'no route');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    blobs,
    puts,
    versions,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('artifact upload', () => {
  let dir: string;
  let dist: string;
  let kiln: Awaited<ReturnType<typeof artifactServer>>;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kiln-artifacts-'));
    dist = path.join(dir, 'dist');
    await mkdir(path.join(dist, 'assets'), { recursive: true });
    await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>Pottery</title>');
    await writeFile(path.join(dist, 'assets', 'app.js'), 'console.log(1)');
    await writeFile(path.join(dist, 'assets', 'copy.js'), 'console.log(1)'); // same blob
    await writeFile(path.join(dist, '.env'), 'SECRET=1');
    await writeFile(path.join(dir, 'outside.txt'), 'not part of dist');
    await symlink(path.join(dir, 'outside.txt'), path.join(dist, 'leak.txt'));
    await symlink(dir, path.join(dist, 'up'));
    kiln = await artifactServer();
  });

  afterEach(async () => {
    await kiln.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('collects regular files only, with hashes and content types, skipping dotfiles and symlinks', async () => {
    const files = await collectArtifacts(dist);
    expect(files.map(({ absolutePath: _, ...f }) => f)).toEqual([
      {
        path: 'assets/app.js',
        hash: createHash('sha256').update('console.log(1)').digest('hex'),
        size: 14,
        contentType: 'text/javascript',
      },
      expect.objectContaining({ path: 'assets/copy.js', contentType: 'text/javascript' }),
      expect.objectContaining({ path: 'index.html', contentType: 'text/html' }),
    ]);
  });

  it('uploads only the blobs Kiln lacks and commits the version', async () => {
    const auth = { server: kiln.origin, token: TOKEN };
    const first = await uploadArtifacts(auth, { buildId: 'leased', turnId: 't1' }, dist);
    expect(first).toMatchObject({ version: 1, turnId: 't1', files: 3 });
    expect(first.url).toBe('http://apps.test/p/project/1/');
    expect(kiln.puts).toHaveLength(2); // app.js and copy.js share a blob
    expect(kiln.versions[0]!.map((f) => f.path)).toEqual([
      'assets/app.js',
      'assets/copy.js',
      'index.html',
    ]);

    // A rebuild that changed one file uploads that file alone.
    await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>Gift cards</title>');
    const second = await uploadArtifacts(auth, { buildId: 'leased', turnId: 't2' }, dist);
    expect(second.version).toBe(2);
    expect(kiln.puts).toHaveLength(3);
    expect(kiln.puts[2]).toBe(kiln.versions[1]!.find((f) => f.path === 'index.html')!.hash);
  });

  it('refuses a file over the per-file limit before uploading anything', async () => {
    await truncate(path.join(dist, 'assets', 'app.js'), MAX_ARTIFACT_FILE_BYTES + 1);
    const upload = uploadArtifacts(
      { server: kiln.origin, token: TOKEN },
      { buildId: 'leased', turnId: 't1' },
      dist,
    );
    await expect(upload).rejects.toThrow(ArtifactError);
    await expect(upload).rejects.toThrow(/MAX_ARTIFACT_FILE_BYTES/);
    expect(kiln.puts).toHaveLength(0);
  });

  it('refuses a dist/ without index.html', async () => {
    await rm(path.join(dist, 'index.html'));
    await expect(collectArtifacts(dist)).rejects.toThrow(/no index.html/);
  });

  it('reports the server refusing a build this runner does not hold', async () => {
    const upload = uploadArtifacts(
      { server: kiln.origin, token: TOKEN },
      { buildId: 'someone-else', turnId: 't1' },
      dist,
    );
    await expect(upload).rejects.toBeInstanceOf(ServerError);
    await expect(upload).rejects.toMatchObject({ status: 403, code: 'forbidden' });
    expect(kiln.versions).toHaveLength(0);
  });
});
