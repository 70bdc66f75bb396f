import { existsSync } from 'node:fs';
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
}

/**
 * Serves each workspace's built output on one local port, one path per project:
 * `GET /<projectId>/…` → `<workspaces>/<projectId>/dist/…` (sirv: no directory listing, no dot
 * files, `index.html` for directories). Files are read on every request, so a rebuild shows at
 * once. The web app shows the URL in a sandboxed iframe.
 */
export class PreviewServer {
  private readonly handlers = new Map<string, RequestHandler>();
  private server: Server | undefined;
  private origin = '';

  constructor(private readonly options: PreviewServerOptions) {}

  /** Starts listening; resolves with the origin. */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
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
      req.url = `/${rest.join('/')}${url.search}`;
      this.handler(projectId)(req, res, () => {
        res.writeHead(404).end('not built yet');
      });
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

  private handler(projectId: string): RequestHandler {
    let handler = this.handlers.get(projectId);
    if (!handler) {
      handler = sirv(path.join(this.options.workspaces, projectId, PREVIEW_DIR), {
        dev: true, // no caching of the file list: builds replace files while we serve
        etag: true,
      });
      this.handlers.set(projectId, handler);
    }
    return handler;
  }
}
