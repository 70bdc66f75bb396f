import { Hono } from 'hono';
import type { Env } from './env';
import { type AppEnv, fail, onError } from './http';
import { auth } from './routes/auth';
import { health } from './routes/health';
import { projects } from './routes/projects';
import { runners } from './routes/runners';
import { sessions } from './routes/sessions';
import { tokens } from './routes/tokens';
import { traces } from './routes/traces';
import { sweepStuckSessions } from './session/sweep';

export { ProjectObject } from './project/project-object';
export { RunnerHub } from './runners/runner-hub';
export { SessionObject } from './session/session-object';
export { ViewerShard } from './session/viewer-shard';
export { WriteThroughHealth } from './session/write-through-health';

/** The Kiln worker: the HTTP API under /api; everything else is the SPA (wrangler `[assets]`). */
const app = new Hono<AppEnv>()
  .basePath('/api')
  .route('/', health)
  .route('/', auth)
  .route('/sessions', traces)
  .route('/sessions', sessions)
  .route('/projects', projects)
  .route('/tokens', tokens)
  .route('/runners', runners)
  .notFound(() => fail(404, 'not-found', 'no such route'))
  .onError(onError);

export default {
  fetch: app.fetch,
  /** Cron trigger (wrangler.toml): fail sessions stuck with no activity. */
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(sweepStuckSessions(env));
  },
} satisfies ExportedHandler<Env>;
