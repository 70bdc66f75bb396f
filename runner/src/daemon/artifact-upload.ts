import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type AppVersion,
  type ArtifactFile,
  appVersion,
  isArtifactPath,
  MAX_ARTIFACT_FILE_BYTES,
  MAX_VERSION_BYTES,
  MAX_VERSION_FILES,
  missingBlobsResponse,
} from '@kiln/protocol';
import { lookup } from 'mrmime';
import { putBytes, requestJson, type ServerAuth } from '../net/http';

/** Blob uploads in flight at once. */
const UPLOAD_CONCURRENCY = 4;

/** A file of `dist/` as the manifest names it, plus where it is on disk. */
export interface LocalArtifact extends ArtifactFile {
  absolutePath: string;
}

/** Why a `dist/` cannot become a version (too big, too many files, a bad name). */
export class ArtifactError extends Error {
  override name = 'ArtifactError';
}

/**
 * Walks `dir` (a workspace's `dist/`) into a manifest: every regular file, hashed with SHA-256,
 * its content type from the extension (`application/octet-stream` when unknown), sorted by path.
 * Uses `lstat`: symlinks are skipped (so nothing outside `dir` is read), and so is every name
 * starting with `.` (dotfiles stay on the runner). Errors: `ArtifactError` when a file exceeds
 * `MAX_ARTIFACT_FILE_BYTES`, the total exceeds `MAX_VERSION_BYTES`, there are more than
 * `MAX_VERSION_FILES` files, a path fails `isArtifactPath`, or there is no `index.html`.
 */
export async function collectArtifacts(dir: string): Promise<LocalArtifact[]> {
  const files: LocalArtifact[] = [];
  let total = 0;
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(path.join(dir, relative));
    for (const name of entries.sort()) {
      if (name.startsWith('.')) continue;
      const rel = relative ? `${relative}/${name}` : name;
      const absolutePath = path.join(dir, rel);
      const info = await lstat(absolutePath);
      if (info.isDirectory()) {
        await walk(rel);
        continue;
      }
      if (!info.isFile()) continue; // symlinks, sockets, devices: never uploaded
      if (!isArtifactPath(rel)) throw new ArtifactError(`dist/${rel}: not a valid artifact path`);
      if (info.size > MAX_ARTIFACT_FILE_BYTES) {
        throw new ArtifactError(
          `dist/${rel} is ${info.size} bytes; the limit is ${MAX_ARTIFACT_FILE_BYTES} (MAX_ARTIFACT_FILE_BYTES)`,
        );
      }
      total += info.size;
      if (total > MAX_VERSION_BYTES) {
        throw new ArtifactError(`dist/ is over ${MAX_VERSION_BYTES} bytes (MAX_VERSION_BYTES)`);
      }
      if (files.length >= MAX_VERSION_FILES) {
        throw new ArtifactError(`dist/ has over ${MAX_VERSION_FILES} files (MAX_VERSION_FILES)`);
      }
      const bytes = await readFile(absolutePath);
      files.push({
        path: rel,
        hash: createHash('sha256').update(bytes).digest('hex'),
        size: bytes.byteLength,
        contentType: lookup(name) ?? 'application/octet-stream',
        absolutePath,
      });
    }
  };
  await walk('');
  if (!files.some((f) => f.path === 'index.html')) {
    throw new ArtifactError('dist/ has no index.html');
  }
  return files;
}

/**
 * Uploads `dir` (a workspace's `dist/`) as a new version of the build's project (PROTOCOL.md
 * §10): asks which blobs Kiln lacks, `PUT`s only those (re-reading each file, a few at once),
 * then commits the manifest for `turnId`. Resolves with the stored version (its `url` on the apps
 * origin). Errors: `ArtifactError` from `collectArtifacts`; `ServerError` when Kiln refuses
 * (403 when this runner does not hold the build's running lease, 413 over a limit).
 */
export async function uploadArtifacts(
  auth: ServerAuth,
  build: { buildId: string; turnId: string },
  dir: string,
): Promise<AppVersion> {
  const files = await collectArtifacts(dir);
  const base = `/api/builds/${encodeURIComponent(build.buildId)}/artifacts`;
  const { missing } = await requestJson(auth, 'POST', `${base}/missing`, missingBlobsResponse, {
    hashes: [...new Set(files.map((f) => f.hash))],
  });
  const byHash = new Map(files.map((f) => [f.hash, f]));
  const queue = missing.filter((hash) => byHash.has(hash));
  const uploader = async () => {
    for (let hash = queue.shift(); hash !== undefined; hash = queue.shift()) {
      const bytes = await readFile(byHash.get(hash)!.absolutePath);
      // A file rewritten since it was hashed would be stored under the wrong name: refuse it.
      if (createHash('sha256').update(bytes).digest('hex') !== hash) {
        throw new ArtifactError(`${byHash.get(hash)!.path} changed while it was uploaded`);
      }
      await putBytes(auth, `${base}/blobs/${hash}`, bytes);
    }
  };
  await Promise.all(Array.from({ length: UPLOAD_CONCURRENCY }, uploader));
  return requestJson(auth, 'POST', `${base}/versions`, appVersion, {
    turnId: build.turnId,
    files: files.map(({ absolutePath: _, ...file }) => file),
  });
}
