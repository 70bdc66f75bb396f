import { Hono } from 'hono';
import { type AppEnv, fail, onError } from './http';
import { auth } from './routes/auth';
import { health } from './routes/health';
import { projects } from './routes/projects';
import { sessions } from './routes/sessions';

export { SessionObject } from './session/session-object';

/** The Kiln worker: the HTTP API under /api; everything else is the SPA (wrangler `[assets]`). */
const app = new Hono<AppEnv>()
  .basePath('/api')
  .route('/', health)
  .route('/', auth)
  .route('/sessions', sessions)
  .route('/projects', projects)
  .notFound(() => fail(404, 'not-found', 'no such route'))
  .onError(onError);

export default app;
