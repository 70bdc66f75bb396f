import { blobHash, commitVersionRequest, missingBlobsRequest } from '@kiln/protocol';
import { Hono } from 'hono';
import { z } from 'zod';
import { commitVersion, missingBlobs, putBlob } from '../artifacts/store';
import { requireRunner } from '../auth/principal';
import { type AppEnv, fail, validate } from '../http';
import { idParam } from './ids';

const buildParams = z.object({ buildId: idParam });

/**
 * `/api/builds/:buildId/artifacts/*` (runner token): the upload of a turn's `dist/`: which blobs
 * are missing, each missing blob, then the manifest that makes a version (PROTOCOL.md §10). Only
 * the runner holding the build's lease may upload, and only while the build runs.
 */
export const artifacts = new Hono<AppEnv>()
  .use(requireRunner)
  .post(
    '/:buildId/artifacts/missing',
    validate('param', buildParams),
    validate('json', missingBlobsRequest),
    async (c) => {
      await leasedBuild(c.env.DB, c.req.valid('param').buildId, c.var.runner.runnerId);
      return c.json({ missing: await missingBlobs(c.env.DB, c.req.valid('json').hashes) });
    },
  )
  .put(
    '/:buildId/artifacts/blobs/:hash',
    validate('param', buildParams.extend({ hash: blobHash })),
    async (c) => {
      const { buildId, hash } = c.req.valid('param');
      await leasedBuild(c.env.DB, buildId, c.var.runner.runnerId);
      await putBlob(c.env, hash, await c.req.arrayBuffer());
      return c.body(null, 204);
    },
  )
  .post(
    '/:buildId/artifacts/versions',
    validate('param', buildParams),
    validate('json', commitVersionRequest),
    async (c) => {
      const build = await leasedBuild(
        c.env.DB,
        c.req.valid('param').buildId,
        c.var.runner.runnerId,
      );
      const { turnId, files } = c.req.valid('json');
      return c.json(await commitVersion(c.env, { ...build, turnId }, files), 201);
    },
  );

/** The build's project and session when it is leased to this runner and running; 403 otherwise. */
async function leasedBuild(db: D1Database, buildId: string, runnerId: string) {
  const build = await db
    .prepare(
      "SELECT project_id AS projectId, session_id AS sessionId FROM builds WHERE id = ? AND holder = ? AND status IN ('leased', 'running')",
    )
    .bind(buildId, `runner:${runnerId}`)
    .first<{ projectId: string; sessionId: string }>();
  if (!build) fail(403, 'forbidden', 'this build is not leased to this runner');
  return build;
}
