import type { Env } from '../env';
import { blobKey, findFile } from './store';

/**
 * The apps origin (`APPS_ORIGIN`): built apps served from R2, on a different site from Kiln's so
 * their scripts never see Kiln's cookies or storage (DESIGN §8).
 *
 * - `/p/<projectId>/<version>/<path>`: a version's preview;
 * - `/<slug>/<path>`: the version a project deployed at that slug.
 *
 * Paths are looked up in the version's manifest, never on a file system, so `..` cannot leave it;
 * a missing path without a file extension falls back to `index.html` (single-page apps). Every
 * response sets `X-Content-Type-Options: nosniff` and reads no cookie or credential.
 */
export async function serveApp(request: Request, env: Env): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return text(405, 'only GET and HEAD', { Allow: 'GET, HEAD' });
  }
  const url = new URL(request.url);
  const segments = url.pathname.split('/').slice(1);
  let projectId: string;
  let version: number;
  let prefix: string;
  let rest: string[];
  if (segments[0] === 'p') {
    const [, id = '', v = '', ...tail] = segments;
    version = Number(v);
    if (!/^[\w-]{1,200}$/.test(id) || !Number.isInteger(version) || version < 1) {
      return text(404, 'no such preview');
    }
    projectId = id;
    prefix = `/p/${id}/${version}`;
    rest = tail;
    if (segments.length < 4) return redirect(`${prefix}/${url.search}`);
  } else {
    const [slug = '', ...tail] = segments;
    if (!/^[a-z0-9-]{3,40}$/.test(slug)) return text(404, 'no such app');
    const deployment = await env.DB.prepare(
      'SELECT project_id, version FROM deployments WHERE slug = ?',
    )
      .bind(slug)
      .first<{ project_id: string; version: number }>();
    if (!deployment) return text(404, 'no app is published here');
    projectId = deployment.project_id;
    version = deployment.version;
    prefix = `/${slug}`;
    rest = tail;
    if (segments.length < 2) return redirect(`${prefix}/${url.search}`);
  }
  let path: string;
  try {
    path = rest.map(decodeURIComponent).join('/');
  } catch {
    return text(400, 'bad path encoding');
  }
  if (path === '' || path.endsWith('/')) path += 'index.html';
  let file = await findFile(env.DB, projectId, version, path);
  const last = path.split('/').at(-1) ?? '';
  if (!file && !last.includes('.')) file = await findFile(env.DB, projectId, version, 'index.html');
  if (!file) return text(404, 'no such file in this version');
  const object = await env.ARTIFACTS.get(blobKey(file.hash));
  if (!object) return text(404, 'this file is no longer stored');
  return new Response(request.method === 'HEAD' ? null : object.body, {
    headers: {
      'Content-Type': file.contentType,
      'Content-Length': String(object.size),
      'X-Content-Type-Options': 'nosniff',
      ETag: `"${file.hash}"`,
      // A preview's bytes never change; a slug's do (publish, rollback).
      'Cache-Control': prefix.startsWith('/p/')
        ? 'public, max-age=31536000, immutable'
        : 'no-cache',
      'Referrer-Policy': 'no-referrer',
    },
  });
}

/** True when `request` is addressed to the apps origin rather than Kiln's own. */
export function isAppsRequest(request: Request, env: Env): boolean {
  if (!env.APPS_ORIGIN) return false;
  return new URL(request.url).host === new URL(env.APPS_ORIGIN).host;
}

function redirect(location: string): Response {
  return new Response(null, { status: 308, headers: { Location: location } });
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
      ...headers,
    },
  });
}
