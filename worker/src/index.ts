import { Hono } from 'hono';
import { isAppsRequest, serveApp } from './artifacts/apps';
import { withKilnPageHeaders } from './artifacts/kiln-page-headers';
import { sweepArtifacts } from './artifacts/store';
import type { Env } from './env';
import { type AppEnv, fail, onError } from './http';
import { artifacts } from './routes/artifacts';
import { auth } from './routes/auth';
import { health } from './routes/health';
import { ownership } from './routes/ownership';
import { projects } from './routes/projects';
import { runners } from './routes/runners';
import { sessions } from './routes/sessions';
import { tokens } from './routes/tokens';
import { traces } from './routes/traces';
import { sweepStuckSessions } from './session/sweep';
import { streams } from './streams/session-stream';

export { ProjectObject } from './project/project-object';
export { RunnerHub } from './runners/runner-hub';
export { SessionObject } from './session/session-object';
export { ViewerShard } from './session/viewer-shard';
export { WriteThroughHealth } from './session/write-through-health';

/** The Kiln HTTP API under /api. */
const app = new Hono<AppEnv>()
  .basePath('/api')
  .route('/', health)
  .route('/', auth)
  .route('/sessions', traces)
  .route('/sessions', sessions)
  .route('/projects', projects)
  .route('/projects', ownership)
  .route('/builds', artifacts)
  .route('/tokens', tokens)
  .route('/runners', runners)
  .notFound(() => fail(404, 'not-found', 'no such route'))
  .onError(onError);

/**
 * The Kiln worker (it runs first for every request, wrangler `run_worker_first`): requests to
 * the apps origin get built apps from R2; `/api` the API; `/v1/stream` the Durable Streams
 * protocol (worker/src/streams); everything else the SPA (`[assets]`)
 * with Kiln's Content-Security-Policy.
 */
export default {
  async fetch(request, env, ctx) {
    if (isAppsRequest(request, env)) return serveApp(request, env);
    const { pathname } = new URL(request.url);
    if (pathname === '/api' || pathname.startsWith('/api/')) return app.fetch(request, env, ctx);
    if (pathname.startsWith('/v1/stream/')) return streams.fetch(request, env, ctx);
    return withKilnPageHeaders(await env.ASSETS.fetch(request), env);
  },
  /** Cron trigger (wrangler.toml): fail stuck sessions; drop old versions and unused blobs. */
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(sweepStuckSessions(env));
    ctx.waitUntil(sweepArtifacts(env));
  },
} satisfies ExportedHandler<Env>;
