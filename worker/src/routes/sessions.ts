import { EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX } from '@kiln/protocol';
import { Hono } from 'hono';
import { z } from 'zod';
import { requireWriter, sessionAccess } from '../auth/access';
import { requirePersonOrRunner, requirePrincipal } from '../auth/principal';
import { admitSocket, socketPrincipalOf } from '../auth/revoke';
import type { SocketPrincipal } from '../auth/socket-access';
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
  .get('/:sessionId/ingest', requirePersonOrRunner, validate('param', params), async (c) => {
    const { sessionId } = c.req.valid('param');
    const runner = c.var.runner;
    if (runner) {
      // A runner may open the ingest socket only of a session with a build leased to it (the
      // SessionDO checks the build id at hello); anything else is refused before the upgrade.
      const lease = await c.env.DB.prepare(
        "SELECT project_id FROM builds WHERE session_id = ? AND holder = ? AND status IN ('leased', 'running') LIMIT 1",
      )
        .bind(sessionId, `runner:${runner.runnerId}`)
        .first<{ project_id: string }>();
      if (!lease) fail(403, 'forbidden', 'no build of this session is leased to this runner');
      return upgrade(c.req.raw, c.env, sessionId, lease.project_id, {
        principal: `runner:${runner.runnerId}`,
        name: runner.name,
        access: {
          kind: 'runner',
          id: runner.runnerId,
          tokenId: null,
          authSessionId: null,
          via: 'bearer',
          role: 'editor',
        },
      });
    }
    const principal = c.var.principal;
    const { projectId, role } = await sessionAccess(c.env.DB, sessionId, principal.userId);
    requireWriter(role);
    return upgrade(c.req.raw, c.env, sessionId, projectId, {
      principal: `user:${principal.userId}`,
      name: principal.name,
      access: socketPrincipalOf(principal, role),
    });
  })
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
    const principal = c.var.principal;
    const { projectId, role } = await sessionAccess(c.env.DB, sessionId, principal.userId);
    return upgrade(c.req.raw, c.env, sessionId, projectId, {
      principal: `user:${principal.userId}`,
      name: principal.name,
      access: socketPrincipalOf(principal, role),
    });
  });

/**
 * Hands an authorized upgrade to the SessionDO, naming the caller in headers only we can set,
 * and records that the session may hold a socket of theirs (for revocations).
 */
async function upgrade(
  request: Request,
  env: AppEnv['Bindings'],
  sessionId: string,
  projectId: string,
  caller: { principal: string; name: string; access: SocketPrincipal },
): Promise<Response> {
  if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
    fail(426, 'bad-request', 'expected a WebSocket upgrade');
  }
  const headers = new Headers(request.headers);
  headers.set(SESSION_HEADER, sessionId);
  headers.set(PROJECT_HEADER, projectId);
  headers.set(PRINCIPAL_HEADER, caller.principal);
  headers.set(ROLE_HEADER, caller.access.role);
  headers.set(NAME_HEADER, caller.name);
  await admitSocket(env, headers, caller.access, `session:${sessionId}`, projectId);
  return env.SESSIONS.getByName(sessionId).fetch(new Request(request, { headers }));
}
