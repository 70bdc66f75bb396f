import { z } from 'zod';
import { MAX_ARTIFACT_FILE_BYTES, MAX_ARTIFACT_PATH_LENGTH, MAX_VERSION_FILES } from './limits';

/**
 * Build artifacts, versions and deployments (PROTOCOL.md §10). A runner uploads a workspace's
 * `dist/` after a successful turn: blobs content-addressed by SHA-256, then a manifest that makes
 * an immutable, numbered version of the project. Kiln serves versions as previews on its apps
 * origin, and one version per project as its deployment at `<APPS_ORIGIN>/<slug>/`.
 */

/** Hex SHA-256 of a blob's bytes: its name in storage. */
export const blobHash = z.string().regex(/^[0-9a-f]{64}$/, 'expected a hex SHA-256');

/**
 * True when `path` may name a file of a version: relative, `/`-separated, no empty, `.` or `..`
 * segment, no segment starting with `.` (dotfiles stay on the runner), no backslash or control
 * character. The same check guards uploads and the apps origin's lookups.
 */
export function isArtifactPath(path: string): boolean {
  if (path.length === 0 || path.length > MAX_ARTIFACT_PATH_LENGTH) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[\\\u0000-\u001f\u007f]/.test(path)) return false;
  return path.split('/').every((segment) => segment.length > 0 && !segment.startsWith('.'));
}

/** One file of a version's manifest. `size` in bytes. */
export const artifactFile = z.object({
  path: z.string().refine(isArtifactPath, 'not a valid artifact path'),
  hash: blobHash,
  size: z.number().int().nonnegative().max(MAX_ARTIFACT_FILE_BYTES),
  contentType: z.string().min(1).max(200),
});
export type ArtifactFile = z.infer<typeof artifactFile>;

/** `POST /api/builds/:buildId/artifacts/missing` (runner): which of these blobs Kiln lacks. */
export const missingBlobsRequest = z.object({
  hashes: z.array(blobHash).min(1).max(MAX_VERSION_FILES),
});
export type MissingBlobsRequest = z.infer<typeof missingBlobsRequest>;

/** Its answer: the hashes to `PUT /api/builds/:buildId/artifacts/blobs/:hash` before committing. */
export const missingBlobsResponse = z.object({ missing: z.array(blobHash) });
export type MissingBlobsResponse = z.infer<typeof missingBlobsResponse>;

/**
 * `POST /api/builds/:buildId/artifacts/versions` (runner): the manifest of a new version. Every
 * blob must be stored already; paths are unique; it must contain `index.html`.
 */
export const commitVersionRequest = z.object({
  /** The turn that built it (the build's current turn). */
  turnId: z.string().min(1).max(200),
  files: z.array(artifactFile).min(1).max(MAX_VERSION_FILES),
});
export type CommitVersionRequest = z.infer<typeof commitVersionRequest>;

/** A stored version of a project. `bytes` is the sum of its files; times are ms epoch. */
export const appVersion = z.object({
  version: z.number().int().positive(),
  sessionId: z.string(),
  turnId: z.string(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  createdAt: z.number(),
  /** Its preview on the apps origin: `<APPS_ORIGIN>/p/<projectId>/<version>/`. */
  url: z.string(),
});
export type AppVersion = z.infer<typeof appVersion>;

/** `GET /api/projects/:projectId/versions`: newest first. */
export const versionsResponse = z.object({ versions: z.array(appVersion) });
export type VersionsResponse = z.infer<typeof versionsResponse>;

/** Reserved first path segments of the apps origin, never a slug. */
const RESERVED_SLUGS = new Set(['api', 'app', 'apps', 'kiln', 'www', 'admin', 'static']);

/**
 * A deployment's slug: 3–40 characters of `a-z`, `0-9` and inner `-`; unique across Kiln (409
 * `conflict` when taken); not a reserved word.
 */
export const deploymentSlug = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$/,
    'a slug is 3–40 characters of a-z, 0-9 and inner hyphens',
  )
  .refine((slug) => !RESERVED_SLUGS.has(slug), 'this slug is reserved');

/** A project's live deployment: `version` served at `url` (`<APPS_ORIGIN>/<slug>/`). */
export const projectDeployment = z.object({
  slug: z.string(),
  version: z.number().int().positive(),
  url: z.string(),
  /** ms epoch of the last publish (or rollback); `publishedBy` is the user's id. */
  publishedAt: z.number(),
  publishedBy: z.string(),
});
export type ProjectDeployment = z.infer<typeof projectDeployment>;

/** `PUT /api/projects/:projectId/deployment` (owner, editor): serve `version` at `slug`. */
export const publishRequest = z.object({
  slug: deploymentSlug,
  version: z.number().int().positive(),
});
export type PublishRequest = z.infer<typeof publishRequest>;

/** One entry of a project's deployment history: a publish, or an unpublish (`version: null`). */
export const deploymentRecord = z.object({
  slug: z.string(),
  version: z.number().int().positive().nullable(),
  at: z.number(),
  by: z.string(),
});
export type DeploymentRecord = z.infer<typeof deploymentRecord>;

/** `GET /api/projects/:projectId/deployment`: the live deployment and the history, newest first. */
export const deploymentResponse = z.object({
  deployment: projectDeployment.nullable(),
  history: z.array(deploymentRecord),
});
export type DeploymentResponse = z.infer<typeof deploymentResponse>;
