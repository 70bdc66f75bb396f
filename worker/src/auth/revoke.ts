import type { Env } from '../env';
import type { Role } from './access';
import type { Principal } from './principal';
import { ACCESS_HEADER, type Revocation, type SocketPrincipal } from './socket-access';

/** Objects told about one revocation in parallel. */
const REVOKE_CONCURRENCY = 16;

/** The socket principal of an authorized person with `role` in the project. */
export function socketPrincipalOf(principal: Principal, role: Role): SocketPrincipal {
  return {
    kind: 'user',
    id: principal.userId,
    tokenId: principal.tokenId,
    authSessionId: principal.authSessionId,
    via: principal.via,
    role,
  };
}

/**
 * Names the caller in the upgrade's `ACCESS_HEADER` and records that `object`
 * (`session:<id>` or `project:<id>`) may now hold a socket of theirs (`socket_holders`).
 */
export async function admitSocket(
  env: Env,
  headers: Headers,
  access: SocketPrincipal,
  object: string,
  projectId: string,
): Promise<void> {
  headers.set(ACCESS_HEADER, JSON.stringify(access));
  if (access.kind !== 'user') return;
  await env.DB.prepare(
    'INSERT OR IGNORE INTO socket_holders (user_id, object, project_id, created_at) VALUES (?, ?, ?, ?)',
  )
    .bind(access.id, object, projectId, Date.now())
    .run();
}

/**
 * Makes every live socket follow a change of access (DESIGN §8): each Durable Object that may
 * hold one of the principal's sockets (`socket_holders`; for a runner, the sessions with a build
 * leased to it) closes or re-roles it before this returns. Holders left with no socket of the
 * person are forgotten.
 */
export async function revokeSockets(env: Env, change: Revocation): Promise<void> {
  if (change.kind === 'runner-revoked') {
    const { results } = await env.DB.prepare(
      "SELECT DISTINCT session_id FROM builds WHERE holder = ? AND status IN ('leased', 'running')",
    )
      .bind(`runner:${change.runnerId}`)
      .all<{ session_id: string }>();
    await inBatches(results, (r) => env.SESSIONS.getByName(r.session_id).revoke(change));
    return;
  }
  const scoped = change.kind === 'member-removed' || change.kind === 'role-changed';
  const { results } = await (scoped
    ? env.DB.prepare('SELECT object FROM socket_holders WHERE project_id = ? AND user_id = ?').bind(
        change.projectId,
        change.userId,
      )
    : env.DB.prepare('SELECT object FROM socket_holders WHERE user_id = ?').bind(change.userId)
  ).all<{ object: string }>();
  await inBatches(results, async ({ object }) => {
    const [kind, name] = splitObject(object);
    const remaining =
      kind === 'session'
        ? await env.SESSIONS.getByName(name).revoke(change)
        : await env.PROJECTS.getByName(name).revoke(change);
    if (remaining === 0) {
      await env.DB.prepare('DELETE FROM socket_holders WHERE user_id = ? AND object = ?')
        .bind(change.userId, object)
        .run();
    }
  });
}

function splitObject(object: string): ['session' | 'project', string] {
  const at = object.indexOf(':');
  const kind = object.slice(0, at);
  if (kind !== 'session' && kind !== 'project') throw new Error(`bad socket holder ${object}`);
  return [kind, object.slice(at + 1)];
}

async function inBatches<T>(items: readonly T[], run: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += REVOKE_CONCURRENCY) {
    await Promise.all(items.slice(i, i + REVOKE_CONCURRENCY).map(run));
  }
}
