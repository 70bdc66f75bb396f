import {
  type AppVersion,
  type ArtifactFile,
  MAX_ARTIFACT_FILE_BYTES,
  MAX_VERSION_BYTES,
  VERSION_RETENTION,
} from '@kiln/protocol';
import type { Env } from '../env';
import { fail } from '../http';

/** An unreferenced blob is swept only once it is this old (an upload in progress may need it). */
export const BLOB_GRACE_MS = 60 * 60_000;

/** R2 key of a blob. */
export const blobKey = (hash: string) => `blobs/${hash}`;

/** `<APPS_ORIGIN>/p/<projectId>/<version>/`: a version's preview. */
function previewUrl(env: Env, projectId: string, version: number): string {
  return `${appsOrigin(env)}/p/${projectId}/${version}/`;
}

/** `<APPS_ORIGIN>/<slug>/`: a deployment's public URL. */
export function deploymentUrl(env: Env, slug: string): string {
  return `${appsOrigin(env)}/${slug}/`;
}

/** The configured apps origin without a trailing slash; 503 when none is configured. */
function appsOrigin(env: Env): string {
  if (!env.APPS_ORIGIN) fail(503, 'internal', 'APPS_ORIGIN is not configured: apps are not served');
  return env.APPS_ORIGIN.replace(/\/$/, '');
}

/** Of `hashes`, those with no stored blob. D1 lists what R2 holds (rows are written after puts). */
export async function missingBlobs(db: D1Database, hashes: string[]): Promise<string[]> {
  const unique = [...new Set(hashes)];
  const known = new Set<string>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < unique.length; i += 100) {
    const chunk = unique.slice(i, i + 100);
    const { results } = await db
      .prepare(`SELECT hash FROM blobs WHERE hash IN (${chunk.map(() => '?').join(',')})`)
      .bind(...chunk)
      .all<{ hash: string }>();
    for (const row of results) known.add(row.hash);
  }
  return unique.filter((hash) => !known.has(hash));
}

/**
 * Stores one blob after checking its size (413 `artifact-too-large` past
 * `MAX_ARTIFACT_FILE_BYTES`) and that its bytes hash to `hash` (400 otherwise).
 */
export async function putBlob(env: Env, hash: string, body: ArrayBuffer): Promise<void> {
  if (body.byteLength > MAX_ARTIFACT_FILE_BYTES) {
    fail(
      413,
      'artifact-too-large',
      `a file is ${body.byteLength} bytes; the limit is ${MAX_ARTIFACT_FILE_BYTES} (MAX_ARTIFACT_FILE_BYTES)`,
    );
  }
  const digest = await crypto.subtle.digest('SHA-256', body);
  const actual = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  if (actual !== hash) fail(400, 'bad-request', `the body hashes to ${actual}, not ${hash}`);
  await env.ARTIFACTS.put(blobKey(hash), body);
  await env.DB.prepare('INSERT OR IGNORE INTO blobs (hash, size, created_at) VALUES (?, ?, ?)')
    .bind(hash, body.byteLength, Date.now())
    .run();
}

/**
 * Makes the next numbered version of `projectId` from a manifest whose blobs are all stored.
 * 400 for duplicate paths or no `index.html`, 409 when blobs are missing, 413 past
 * `MAX_VERSION_BYTES`, 503 without `APPS_ORIGIN`. The number is taken and the manifest written in
 * one D1 batch (a transaction), so two commits never share a number and no version is ever seen
 * without its files.
 */
export async function commitVersion(
  env: Env,
  build: { projectId: string; sessionId: string; turnId: string },
  files: ArtifactFile[],
): Promise<AppVersion> {
  const paths = new Set(files.map((f) => f.path));
  if (paths.size !== files.length) fail(400, 'bad-request', 'the manifest repeats a path');
  if (!paths.has('index.html')) fail(400, 'bad-request', 'the manifest has no index.html');
  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  if (bytes > MAX_VERSION_BYTES) {
    fail(
      413,
      'artifact-too-large',
      `the version is ${bytes} bytes; the limit is ${MAX_VERSION_BYTES} (MAX_VERSION_BYTES)`,
    );
  }
  const missing = await missingBlobs(
    env.DB,
    files.map((f) => f.hash),
  );
  if (missing.length > 0) {
    fail(409, 'conflict', `upload these blobs first: ${missing.slice(0, 5).join(', ')}…`);
  }
  const now = Date.now();
  const { projectId } = build;
  appsOrigin(env); // 503 before anything is stored when apps are not served (no URL to give)
  // One batch (one transaction): the version and its manifest appear together or not at all.
  // The manifest goes as one JSON parameter; the files take the number just inserted.
  const manifest = JSON.stringify(files.map((f) => [f.path, f.hash, f.size, f.contentType]));
  const [inserted] = await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO app_versions (project_id, version, session_id, turn_id, files, bytes, created_at)
       SELECT ?, COALESCE(MAX(version), 0) + 1, ?, ?, ?, ?, ? FROM app_versions WHERE project_id = ?
       RETURNING version`,
    ).bind(projectId, build.sessionId, build.turnId, files.length, bytes, now, projectId),
    env.DB.prepare(
      `INSERT INTO version_files (project_id, version, path, hash, size, content_type)
       SELECT ?1, (SELECT MAX(version) FROM app_versions WHERE project_id = ?1),
         json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
         json_extract(value, '$[3]')
       FROM json_each(?2)`,
    ).bind(projectId, manifest),
  ]);
  const version = (inserted?.results[0] as { version: number } | undefined)?.version;
  if (!version) throw new Error(`project ${projectId}: no version number was returned`);
  return {
    version,
    sessionId: build.sessionId,
    turnId: build.turnId,
    files: files.length,
    bytes,
    createdAt: now,
    url: previewUrl(env, projectId, version),
  };
}

/** A project's versions, newest first (at most `VERSION_RETENTION` are kept). */
export async function listVersions(env: Env, projectId: string): Promise<AppVersion[]> {
  const { results } = await env.DB.prepare(
    `SELECT version, session_id, turn_id, files, bytes, created_at FROM app_versions
     WHERE project_id = ? ORDER BY version DESC LIMIT ?`,
  )
    .bind(projectId, VERSION_RETENTION)
    .all<{
      version: number;
      session_id: string;
      turn_id: string;
      files: number;
      bytes: number;
      created_at: number;
    }>();
  return results.map((r) => ({
    version: r.version,
    sessionId: r.session_id,
    turnId: r.turn_id,
    files: r.files,
    bytes: r.bytes,
    createdAt: r.created_at,
    url: previewUrl(env, projectId, r.version),
  }));
}

/** The file of a version at `path`, or null. */
export async function findFile(
  db: D1Database,
  projectId: string,
  version: number,
  path: string,
): Promise<{ hash: string; contentType: string } | null> {
  return db
    .prepare(
      'SELECT hash, content_type AS contentType FROM version_files WHERE project_id = ? AND version = ? AND path = ?',
    )
    .bind(projectId, version, path)
    .first<{ hash: string; contentType: string }>();
}

/**
 * The cron's housekeeping: drops versions past `VERSION_RETENTION` per project (never the
 * deployed one) and manifests of deleted projects, then deletes blobs no manifest references,
 * from R2 first and then D1 (a crash in between leaves a row whose next sweep retries). Returns
 * how many blobs were deleted. A blob younger than `BLOB_GRACE_MS` is kept: it may belong to an
 * upload whose manifest is not committed yet.
 */
export async function sweepArtifacts(env: Env, now = Date.now()): Promise<number> {
  await env.DB.batch([
    env.DB.prepare(
      `DELETE FROM app_versions WHERE (project_id, version) IN (
         SELECT project_id, version FROM (
           SELECT project_id, version,
                  ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY version DESC) AS n
           FROM app_versions)
         WHERE n > ?)
       AND (project_id, version) NOT IN (SELECT project_id, version FROM deployments)`,
    ).bind(VERSION_RETENTION),
    env.DB.prepare(
      `DELETE FROM version_files WHERE NOT EXISTS (
         SELECT 1 FROM app_versions v
         WHERE v.project_id = version_files.project_id AND v.version = version_files.version)`,
    ),
  ]);
  const { results } = await env.DB.prepare(
    `SELECT hash FROM blobs WHERE created_at < ?
       AND NOT EXISTS (SELECT 1 FROM version_files f WHERE f.hash = blobs.hash)
     LIMIT 1000`,
  )
    .bind(now - BLOB_GRACE_MS)
    .all<{ hash: string }>();
  if (results.length === 0) return 0;
  const hashes = results.map((r) => r.hash);
  await env.ARTIFACTS.delete(hashes.map(blobKey));
  for (let i = 0; i < hashes.length; i += 100) {
    const chunk = hashes.slice(i, i + 100);
    await env.DB.prepare(
      `DELETE FROM blobs WHERE hash IN (${chunk.map(() => '?').join(',')})
       AND NOT EXISTS (SELECT 1 FROM version_files f WHERE f.hash = blobs.hash)`,
    )
      .bind(...chunk)
      .run();
  }
  return hashes.length;
}
