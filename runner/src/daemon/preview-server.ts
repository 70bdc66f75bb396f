import { existsSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sirv, { type RequestHandler } from 'sirv';

/** The directory of a workspace the preview serves: what its build wrote. */
export const PREVIEW_DIR = 'dist';

/** Options of a `PreviewServer`. */
export interface PreviewServerOptions {
  /** Directory holding one workspace per project (`<workspaces>/<projectId>/dist`). */
  workspaces: string;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1 (0.0.0.0 in a container). */
  host?: string;
  /** Origin the URLs are given with (default `http://localhost:<port>`), e.g. behind a proxy. */
  publicUrl?: string;
  /** Told of an unexpected error while answering a request (the request gets a 500). */
  onError?: (error: unknown) => void;
}

/**
 * Serves each workspace's built output on one local port, one path per project:
 * `GET /<projectId>/…` → `<workspaces>/<projectId>/dist/…` (`index.html` for directories, `.html`
 * added when missing, no directory listing). Only regular files whose real path is inside the
 * project's real `dist/` are served — a symlink out (`dist/etc → /etc`) is a 404 — and no path
 * with a segment starting with `.` (`/.env`, `/.git/…`). Every response carries
 * `X-Content-Type-Options: nosniff`; sirv sets the content type from the extension. One sirv
 * handler serves every project (no per-project state). Files are read on every request, so a
 * rebuild shows at once. The web app shows the URL in a sandboxed iframe.
 */
export class PreviewServer {
  private readonly files: RequestHandler;
  private server: Server | undefined;
  private origin = '';

  constructor(private readonly options: PreviewServerOptions) {
    this.files = sirv(options.workspaces, {
      dev: true, // no caching of the file list: builds replace files while we serve
      etag: true,
      extensions: [],
    });
  }

  /** Starts listening; resolves with the origin. */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      const url = new URL(req.url ?? '/', 'http://preview');
      const [, projectId = '', ...rest] = url.pathname.split('/');
      if (!/^[\w-]{1,100}$/.test(projectId)) {
        res.writeHead(404).end('no such preview');
        return;
      }
      if (rest.length === 0) {
        // `/<id>` → `/<id>/`, so the page's relative links resolve inside the project.
        res.writeHead(308, { location: `/${projectId}/${url.search}` }).end();
        return;
      }
      void this.resolve(projectId, rest).then(
        (file) => {
          if (!file) {
            res.writeHead(404).end('not built yet');
            return;
          }
          // sirv looks up exactly the checked file (encoded as it decodes it).
          req.url = `/${file.split(path.sep).map(encodeURIComponent).join('/')}`;
          this.files(req, res, () => {
            res.writeHead(404).end('not built yet');
          });
        },
        (error: unknown) => {
          res.writeHead(500).end('preview failed');
          this.options.onError?.(error);
        },
      );
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    this.origin = this.options.publicUrl?.replace(/\/$/, '') ?? `http://localhost:${port}`;
    return this.origin;
  }

  /** The preview URL of a project once its workspace has a built `index.html`, else undefined. */
  urlFor(projectId: string): string | undefined {
    const index = path.join(this.options.workspaces, projectId, PREVIEW_DIR, 'index.html');
    if (!this.origin || !existsSync(index)) return undefined;
    return `${this.origin}/${projectId}/`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * The file a request names, relative to `workspaces` and symlink-free, or undefined: the
   * segments (URL-encoded) must decode, none may start with `.`, and the first of `p`, `p.html`,
   * `p/index.html` (`p/index.html` alone for a trailing `/`) that exists must be a regular file
   * whose real path is inside the project's real `dist/`.
   */
  private async resolve(projectId: string, encoded: string[]): Promise<string | undefined> {
    let segments: string[];
    try {
      segments = encoded.map((segment) => decodeURIComponent(segment));
    } catch {
      return undefined; // malformed escape
    }
    const trailing = segments.at(-1) === '';
    segments = segments.filter((segment) => segment !== '');
    if (segments.some((s) => s.startsWith('.') || /[\0/\\]/.test(s))) return undefined;
    const workspaces = await realpath(this.options.workspaces);
    const dist = await realpath(path.join(workspaces, projectId, PREVIEW_DIR)).catch(() => '');
    if (!dist.startsWith(`${workspaces}${path.sep}`)) return undefined;
    const base = path.join(dist, ...segments);
    const candidates = trailing
      ? [path.join(base, 'index.html')]
      : [base, `${base}.html`, path.join(base, 'index.html')];
    for (const candidate of candidates) {
      const real = await realpath(candidate).catch(() => undefined);
      if (real === undefined) continue;
      if (!real.startsWith(`${dist}${path.sep}`)) return undefined; // a link out of dist/
      if (!(await stat(real)).isFile()) continue;
      return path.relative(workspaces, real);
    }
    return undefined;
  }
}
