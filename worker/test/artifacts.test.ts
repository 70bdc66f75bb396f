import { env, SELF } from 'cloudflare:test';
import {
  type AppVersion,
  type ArtifactFile,
  type DeploymentResponse,
  MAX_ARTIFACT_FILE_BYTES,
  projectState,
} from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { BLOB_GRACE_MS, commitVersion, sweepArtifacts } from '../src/artifacts/store';
import { type Account, api, leaseBuild, seedAccount, seedRunner } from './helpers';

const APPS = 'http://apps.test';

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** An account whose project has a running build leased to a runner of its own. */
async function runnerBuild(account?: Account) {
  const owner = account ?? (await seedAccount());
  const sessionId = crypto.randomUUID();
  await leaseBuild(owner, sessionId);
  const runner = await seedRunner(owner);
  const buildId = crypto.randomUUID();
  await env.DB.prepare(
    `INSERT INTO builds (id, session_id, project_id, holder, agent, model, status, lease_expires_at, created_at)
     VALUES (?, ?, ?, ?, 'demo', '', 'running', ?, ?)`,
  )
    .bind(
      buildId,
      sessionId,
      owner.projectId,
      `runner:${runner.runnerId}`,
      Date.now() + 60_000,
      Date.now(),
    )
    .run();
  return { owner, runner, buildId, sessionId };
}

/** Uploads `site` as the runner would: missing blobs, PUT each, commit. */
async function upload(
  build: Awaited<ReturnType<typeof runnerBuild>>,
  site: Record<string, [string, string]>,
): Promise<{ version: AppVersion; uploaded: number }> {
  const files: ArtifactFile[] = [];
  const bodies = new Map<string, Uint8Array>();
  for (const [path, [content, contentType]] of Object.entries(site)) {
    const bytes = new TextEncoder().encode(content);
    const hash = await sha256(bytes);
    bodies.set(hash, bytes);
    files.push({ path, hash, size: bytes.byteLength, contentType });
  }
  const base = `/api/builds/${build.buildId}/artifacts`;
  const res = await api(`${base}/missing`, build.runner.token, {
    method: 'POST',
    body: JSON.stringify({ hashes: files.map((f) => f.hash) }),
  });
  expect(res.status).toBe(200);
  const { missing } = (await res.json()) as { missing: string[] };
  for (const hash of missing) {
    const put = await SELF.fetch(`http://kiln.test${base}/blobs/${hash}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${build.runner.token}` },
      body: bodies.get(hash)!,
    });
    expect(put.status).toBe(204);
  }
  const commit = await api(`${base}/versions`, build.runner.token, {
    method: 'POST',
    body: JSON.stringify({ turnId: 'turn-1', files }),
  });
  expect(commit.status, await commit.clone().text()).toBe(201);
  return { version: (await commit.json()) as AppVersion, uploaded: missing.length };
}

const SITE: Record<string, [string, string]> = {
  'index.html': [
    '<!doctype html><title>one</title><script src="app.js"></script>',
    'text/html; charset=utf-8',
  ],
  'app.js': ['document.title = "one";', 'text/javascript; charset=utf-8'],
};

describe('build artifacts', () => {
  it('a runner uploads only missing blobs; the version is served on the apps origin with its content types and nosniff', async () => {
    const build = await runnerBuild();
    const first = await upload(build, SITE);
    expect(first.uploaded).toBe(2);
    expect(first.version.url).toBe(`${APPS}/p/${build.owner.projectId}/${first.version.version}/`);
    const second = await upload(build, { ...SITE, 'about.txt': ['about', 'text/plain'] });
    expect(second.uploaded).toBe(1);
    expect(second.version.version).toBe(first.version.version + 1);

    const index = await SELF.fetch(first.version.url);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await index.text()).toContain('<title>one</title>');
    const js = await SELF.fetch(`${first.version.url}app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    // SPA fallback for a route, 404 for a missing file, and the first version never changes.
    expect(await (await SELF.fetch(`${first.version.url}settings/profile`)).text()).toContain(
      'one',
    );
    expect((await SELF.fetch(`${first.version.url}missing.css`)).status).toBe(404);
    expect((await SELF.fetch(`${first.version.url}about.txt`)).status).toBe(404);
    expect((await SELF.fetch(`${second.version.url}about.txt`)).status).toBe(200);
    // No way out of the manifest: encoded traversal is just a path that is not in it.
    for (const path of ['..%2f..%2fapi%2fprojects', '%2e%2e/%2e%2e/index.html', '.env']) {
      const res = await SELF.fetch(`${first.version.url}${path}`);
      expect(await res.text()).not.toContain('"projects"');
    }
    const redirect = await SELF.fetch(`${APPS}/p/${build.owner.projectId}/1`, {
      redirect: 'manual',
    });
    expect(redirect.status).toBe(308);
  });

  it('stores a many-file manifest whole with its version, and nothing when APPS_ORIGIN is unset', async () => {
    const build = await runnerBuild();
    const site: Record<string, [string, string]> = { ...SITE };
    for (let i = 0; i < 40; i++) site[`assets/part-${i}.txt`] = [`part ${i}`, 'text/plain'];
    const { version } = await upload(build, site);
    const rows = await env.DB.prepare(
      'SELECT path, size, content_type FROM version_files WHERE project_id = ? AND version = ? ORDER BY path',
    )
      .bind(build.owner.projectId, version.version)
      .all<{ path: string; size: number; content_type: string }>();
    expect(rows.results).toHaveLength(42);
    expect(rows.results.find((r) => r.path === 'assets/part-7.txt')).toEqual({
      path: 'assets/part-7.txt',
      size: 6,
      content_type: 'text/plain',
    });
    expect(await (await SELF.fetch(`${version.url}assets/part-39.txt`)).text()).toBe('part 39');

    // The same files again (all blobs stored), committed where no apps origin is configured.
    const manifest: ArtifactFile[] = [];
    for (const [path, [content, contentType]] of Object.entries(site)) {
      const bytes = new TextEncoder().encode(content);
      manifest.push({ path, hash: await sha256(bytes), size: bytes.byteLength, contentType });
    }
    const unserved = { ...env, APPS_ORIGIN: '' };
    await expect(
      commitVersion(
        unserved,
        { projectId: build.owner.projectId, sessionId: build.sessionId, turnId: 'turn-2' },
        manifest,
      ),
    ).rejects.toMatchObject({ status: 503 });
    const latest = await env.DB.prepare(
      'SELECT MAX(version) AS v FROM app_versions WHERE project_id = ?',
    )
      .bind(build.owner.projectId)
      .first<{ v: number }>();
    expect(latest?.v).toBe(version.version);
  });

  it('refuses a blob whose bytes do not match its hash, one past the size limit, and a manifest with missing blobs or no index.html', async () => {
    const build = await runnerBuild();
    const base = `http://kiln.test/api/builds/${build.buildId}/artifacts`;
    const auth = { Authorization: `Bearer ${build.runner.token}` };
    const wrong = await SELF.fetch(`${base}/blobs/${'0'.repeat(64)}`, {
      method: 'PUT',
      headers: auth,
      body: 'hello',
    });
    expect(wrong.status).toBe(400);
    const big = new Uint8Array(MAX_ARTIFACT_FILE_BYTES + 1);
    const tooBig = await SELF.fetch(`${base}/blobs/${await sha256(big)}`, {
      method: 'PUT',
      headers: auth,
      body: big,
    });
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as { error: { code: string } }).error.code).toBe(
      'artifact-too-large',
    );
    const file = { hash: 'a'.repeat(64), size: 1, contentType: 'text/html' };
    const missing = await api(
      `/api/builds/${build.buildId}/artifacts/versions`,
      build.runner.token,
      {
        method: 'POST',
        body: JSON.stringify({ turnId: 't', files: [{ path: 'index.html', ...file }] }),
      },
    );
    expect(missing.status).toBe(409);
    const noIndex = await api(
      `/api/builds/${build.buildId}/artifacts/versions`,
      build.runner.token,
      {
        method: 'POST',
        body: JSON.stringify({ turnId: 't', files: [{ path: 'app.js', ...file }] }),
      },
    );
    expect(noIndex.status).toBe(400);
    const dotfile = await api(
      `/api/builds/${build.buildId}/artifacts/versions`,
      build.runner.token,
      {
        method: 'POST',
        body: JSON.stringify({ turnId: 't', files: [{ path: '../.env', ...file }] }),
      },
    );
    expect(dotfile.status).toBe(400);
  });

  it('only the runner holding the build may upload to it', async () => {
    const build = await runnerBuild();
    const other = await seedRunner(build.owner, 'other');
    const res = await api(`/api/builds/${build.buildId}/artifacts/missing`, other.token, {
      method: 'POST',
      body: JSON.stringify({ hashes: ['a'.repeat(64)] }),
    });
    expect(res.status).toBe(403);
    const person = await api(`/api/builds/${build.buildId}/artifacts/missing`, build.owner.token, {
      method: 'POST',
      body: JSON.stringify({ hashes: ['a'.repeat(64)] }),
    });
    expect(person.status).toBe(401);
  });
});

describe('deployments', () => {
  it('an editor publishes, rolls back and unpublishes; a viewer cannot; every change reaches the project channel', async () => {
    const build = await runnerBuild();
    const v1 = (await upload(build, SITE)).version;
    const v2 = (await upload(build, { ...SITE, 'index.html': ['<title>two</title>', 'text/html'] }))
      .version;
    const slug = `app-${crypto.randomUUID().slice(0, 8)}`;
    const viewer = await seedAccount('viewer', build.owner.projectId);
    const publish = (token: string, version: number, as = slug) =>
      api(`/api/projects/${build.owner.projectId}/deployment`, token, {
        method: 'PUT',
        body: JSON.stringify({ slug: as, version }),
      });
    expect((await publish(viewer.token, v1.version)).status).toBe(403);
    expect((await publish(build.owner.token, v1.version, 'Bad_Slug')).status).toBe(400);
    expect((await publish(build.owner.token, 999)).status).toBe(404);

    expect((await publish(build.owner.token, v2.version)).status).toBe(200);
    expect(await (await SELF.fetch(`${APPS}/${slug}/`)).text()).toContain('two');
    expect((await publish(build.owner.token, v1.version)).status).toBe(200);
    expect(await (await SELF.fetch(`${APPS}/${slug}/`)).text()).toContain('one');

    const otherProject = await runnerBuild();
    await upload(otherProject, SITE);
    const taken = await api(
      `/api/projects/${otherProject.owner.projectId}/deployment`,
      otherProject.owner.token,
      {
        method: 'PUT',
        body: JSON.stringify({ slug, version: 1 }),
      },
    );
    expect(taken.status).toBe(409);

    const seen = await api(`/api/projects/${build.owner.projectId}/deployment`, viewer.token);
    const body = (await seen.json()) as DeploymentResponse;
    expect(body.deployment).toMatchObject({ slug, version: v1.version, url: `${APPS}/${slug}/` });
    expect(body.history.map((h) => h.version)).toEqual([v1.version, v2.version]);

    const unpublish = await api(
      `/api/projects/${build.owner.projectId}/deployment`,
      build.owner.token,
      {
        method: 'DELETE',
      },
    );
    expect(unpublish.status).toBe(204);
    expect((await SELF.fetch(`${APPS}/${slug}/`)).status).toBe(404);
    // The RPC return type of ProjectState is `never` (its config record is not serializable to
    // TypeScript): parse it, as any boundary does.
    const state = projectState.parse(
      await env.PROJECTS.getByName(build.owner.projectId).getState(build.owner.projectId),
    );
    expect(state.deployment).toBeNull();
    expect(state.headSeq).toBeGreaterThanOrEqual(3);
  });
});

describe('the artifact sweep', () => {
  it('deletes blobs no version references once they are past the grace period, from R2 and D1', async () => {
    const build = await runnerBuild();
    const { version } = await upload(build, SITE);
    const orphan = new TextEncoder().encode(`orphan ${crypto.randomUUID()}`);
    const orphanHash = await sha256(orphan);
    await SELF.fetch(`http://kiln.test/api/builds/${build.buildId}/artifacts/blobs/${orphanHash}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${build.runner.token}` },
      body: orphan,
    });
    // Within the grace period the orphan stays (an upload may be about to commit it).
    await sweepArtifacts(env);
    expect(await env.ARTIFACTS.head(`blobs/${orphanHash}`)).not.toBeNull();
    await sweepArtifacts(env, Date.now() + BLOB_GRACE_MS + 1000);
    expect(await env.ARTIFACTS.head(`blobs/${orphanHash}`)).toBeNull();
    expect(
      await env.DB.prepare('SELECT 1 FROM blobs WHERE hash = ?').bind(orphanHash).first(),
    ).toBeNull();
    // Referenced blobs stay and the version still serves.
    expect((await SELF.fetch(version.url)).status).toBe(200);
  });
});
