import { type DeploymentResponse, type ProjectDeployment, publishRequest } from '@kiln/protocol';
import { Hono } from 'hono';
import { z } from 'zod';
import { deploymentUrl, listVersions } from '../artifacts/store';
import { projectRole, requireWriter } from '../auth/access';
import { type AppEnv, fail, validate } from '../http';
import { publishProjectEvents } from '../project/publish';
import { idParam } from './ids';

const projectParams = z.object({ projectId: idParam });

interface DeploymentRow {
  slug: string;
  version: number;
  published_at: number;
  published_by: string;
}

/**
 * `/api/projects/:projectId/{versions,deployment}`: a project's stored versions and its public
 * deployment. Every member sees them; owners and editors publish (any version, which is also how
 * a rollback is done) and unpublish. Each change is published as `deployment-updated`. Mounted by
 * `projects`, whose `requirePrincipal` has run before these (a `.use()` here would run for every
 * /api/projects/* request a second time).
 */
export const deployments = new Hono<AppEnv>()
  .get('/:projectId/versions', validate('param', projectParams), async (c) => {
    const { projectId } = c.req.valid('param');
    await projectRole(c.env.DB, projectId, c.var.principal.userId);
    return c.json({ versions: await listVersions(c.env, projectId) });
  })
  .get('/:projectId/deployment', validate('param', projectParams), async (c) => {
    const { projectId } = c.req.valid('param');
    await projectRole(c.env.DB, projectId, c.var.principal.userId);
    const [live, history] = await c.env.DB.batch([
      c.env.DB.prepare(
        'SELECT slug, version, published_at, published_by FROM deployments WHERE project_id = ?',
      ).bind(projectId),
      c.env.DB.prepare(
        'SELECT slug, version, at, by FROM deployment_history WHERE project_id = ? ORDER BY at DESC, rowid DESC LIMIT 100',
      ).bind(projectId),
    ]);
    const row = live?.results[0] as DeploymentRow | undefined;
    const body: DeploymentResponse = {
      deployment: row ? toDeployment(c.env, row) : null,
      history: (history?.results ?? []) as DeploymentResponse['history'],
    };
    return c.json(body);
  })
  .put(
    '/:projectId/deployment',
    validate('param', projectParams),
    validate('json', publishRequest),
    async (c) => {
      const { projectId } = c.req.valid('param');
      const { slug, version } = c.req.valid('json');
      const userId = c.var.principal.userId;
      requireWriter(await projectRole(c.env.DB, projectId, userId));
      const exists = await c.env.DB.prepare(
        'SELECT 1 AS found FROM app_versions WHERE project_id = ? AND version = ?',
      )
        .bind(projectId, version)
        .first();
      if (!exists) fail(404, 'not-found', `project has no version ${version}`);
      const taken = await c.env.DB.prepare(
        'SELECT project_id FROM deployments WHERE slug = ? AND project_id != ?',
      )
        .bind(slug, projectId)
        .first();
      if (taken) fail(409, 'conflict', `the slug ${slug} is taken`);
      const now = Date.now();
      try {
        await c.env.DB.batch([
          c.env.DB.prepare(
            `INSERT INTO deployments (project_id, slug, version, published_at, published_by)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (project_id) DO UPDATE SET slug = excluded.slug, version = excluded.version,
               published_at = excluded.published_at, published_by = excluded.published_by`,
          ).bind(projectId, slug, version, now, userId),
          c.env.DB.prepare(
            'INSERT INTO deployment_history (id, project_id, slug, version, at, by) VALUES (?, ?, ?, ?, ?, ?)',
          ).bind(crypto.randomUUID(), projectId, slug, version, now, userId),
        ]);
      } catch (error) {
        // Another project took the slug between the check and the write (UNIQUE on slug).
        if (String(error).includes('UNIQUE')) fail(409, 'conflict', `the slug ${slug} is taken`);
        throw error;
      }
      const deployment = toDeployment(c.env, {
        slug,
        version,
        published_at: now,
        published_by: userId,
      });
      await publishProjectEvents(c.env, projectId, [{ type: 'deployment-updated', deployment }]);
      return c.json(deployment);
    },
  )
  .delete('/:projectId/deployment', validate('param', projectParams), async (c) => {
    const { projectId } = c.req.valid('param');
    const userId = c.var.principal.userId;
    requireWriter(await projectRole(c.env.DB, projectId, userId));
    const live = await c.env.DB.prepare('SELECT slug FROM deployments WHERE project_id = ?')
      .bind(projectId)
      .first<{ slug: string }>();
    if (!live) fail(404, 'not-found', 'the project is not published');
    await c.env.DB.batch([
      c.env.DB.prepare('DELETE FROM deployments WHERE project_id = ?').bind(projectId),
      c.env.DB.prepare(
        'INSERT INTO deployment_history (id, project_id, slug, version, at, by) VALUES (?, ?, ?, NULL, ?, ?)',
      ).bind(crypto.randomUUID(), projectId, live.slug, Date.now(), userId),
    ]);
    await publishProjectEvents(c.env, projectId, [
      { type: 'deployment-updated', deployment: null },
    ]);
    return c.body(null, 204);
  });

function toDeployment(env: AppEnv['Bindings'], row: DeploymentRow): ProjectDeployment {
  return {
    slug: row.slug,
    version: row.version,
    url: deploymentUrl(env, row.slug),
    publishedAt: row.published_at,
    publishedBy: row.published_by,
  };
}
