import { EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX } from '@kiln/protocol';
import { Hono } from 'hono';
import { z } from 'zod';
import { requireWriter, sessionAccess } from '../auth/access';
import { requirePrincipal } from '../auth/principal';
import { type AppEnv, fail, validate } from '../http';
import {
  NAME_HEADER,
  PRINCIPAL_HEADER,
  PROJECT_HEADER,
  ROLE_HEADER,
  SESSION_HEADER,
} from '../session/session-object';
import { idParam } from './ids';

const params = z.object({ sessionId: idParam });

/** `/api/sessions/:sessionId/*`: state, events, health and the two sockets. */
export const sessions = new Hono<AppEnv>()
  .use(requirePrincipal)
  .get('/:sessionId/state', validate('param', params), async (c) => {
    const { sessionId } = c.req.valid('param');
    await sessionAccess(c.env.DB, sessionId, c.var.principal.userId);
    const state = await c.env.SESSIONS.getByName(sessionId).getState();
    if (!state) fail(404, 'not-found', `no session ${sessionId}`);
    return c.json(state);
  })
  .get(
    '/:sessionId/events',
    validate('param', params),
    validate(
      'query',
      z.object({
        after: z.coerce.number().int().nonnegative().default(0),
        limit: z.coerce.number().int().positive().max(EVENTS_PAGE_MAX).default(EVENTS_PAGE_DEFAULT),
      }),
    ),
    async (c) => {
      const { sessionId } = c.req.valid('param');
      const { after, limit } = c.req.valid('query');
      await sessionAccess(c.env.DB, sessionId, c.var.principal.userId);
      return c.json(await c.env.SESSIONS.getByName(sessionId).getEvents(after, limit));
    },
  )
  .get('/:sessionId/health', validate('param', params), async (c) => {
    const { sessionId } = c.req.valid('param');
    await sessionAccess(c.env.DB, sessionId, c.var.principal.userId);
    return c.json(await c.env.SESSIONS.getByName(sessionId).getHealth());
  })
  .get('/:sessionId/ws', validate('param', params), async (c) => {
    const { sessionId } = c.req.valid('param');
    const { projectId, role } = await sessionAccess(c.env.DB, sessionId, c.var.principal.userId);
    return upgrade(c.req.raw, c.env, sessionId, projectId, role, c.var.principal);
  })
  .get('/:sessionId/ingest', validate('param', params), async (c) => {
    const { sessionId } = c.req.valid('param');
    const { projectId, role } = await sessionAccess(c.env.DB, sessionId, c.var.principal.userId);
    requireWriter(role);
    return upgrade(c.req.raw, c.env, sessionId, projectId, role, c.var.principal);
  });

/** Hands an authorized upgrade to the SessionDO, naming the caller in headers only we can set. */
function upgrade(
  request: Request,
  env: AppEnv['Bindings'],
  sessionId: string,
  projectId: string,
  role: string,
  principal: AppEnv['Variables']['principal'],
): Promise<Response> {
  if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
    fail(426, 'bad-request', 'expected a WebSocket upgrade');
  }
  const headers = new Headers(request.headers);
  headers.set(SESSION_HEADER, sessionId);
  headers.set(PROJECT_HEADER, projectId);
  headers.set(PRINCIPAL_HEADER, `user:${principal.userId}`);
  headers.set(ROLE_HEADER, role);
  headers.set(NAME_HEADER, principal.name);
  return env.SESSIONS.getByName(sessionId).fetch(new Request(request, { headers }));
}
