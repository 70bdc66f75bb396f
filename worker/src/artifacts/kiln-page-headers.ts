import type { Env } from '../env';

/**
 * The Content-Security-Policy of Kiln's own pages (the SPA): only Kiln's scripts, styles and
 * connections (sockets included: `'self'` covers ws/wss of the same host); frames only from the
 * apps origin — and from loopback, for a runner's own `--serve-preview` server; nobody may frame
 * Kiln. Built apps never run in this origin (DESIGN §8).
 */
function kilnContentSecurityPolicy(env: Env): string {
  const frames = [env.APPS_ORIGIN, 'http://localhost:*', 'http://127.0.0.1:*']
    .filter(Boolean)
    .join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob: https:",
    "connect-src 'self'",
    `frame-src ${frames}`,
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/** `response` (from the SPA's assets) with Kiln's security headers. */
export function withKilnPageHeaders(response: Response, env: Env): Response {
  const headers = new Headers(response.headers);
  headers.set('Content-Security-Policy', kilnContentSecurityPolicy(env));
  headers.set('X-Content-Type-Options', 'nosniff');
  headers.set('Referrer-Policy', 'same-origin');
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}
