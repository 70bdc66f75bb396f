import type { BuildStatus, SessionState, SessionStatus } from '@kiln/protocol';
import type { Env } from '../env';
import { publishProjectEvents } from '../project/publish';
import type { TurnRow } from './turn-queue';

/**
 * What the hub writes outside itself: D1's `builds` rows (which the ingest route checks before
 * upgrading) and the project channel's session status. Plain functions of `env`, so the hub's
 * class keeps to the queue, the sockets and dispatch.
 */

/** A build's state in D1: `leased` inserts the row (with `turn` and `runnerId`), the rest update it. */
export async function recordBuild(
  env: Env,
  buildId: string,
  status: BuildStatus,
  lease?: { turn: TurnRow; runnerId: string; expiresAt: number },
): Promise<void> {
  const now = Date.now();
  if (status === 'leased' && lease) {
    const { turn, runnerId, expiresAt } = lease;
    await env.DB.prepare(
      `INSERT INTO builds (id, session_id, project_id, holder, agent, model, status, lease_expires_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'leased', ?, ?)`,
    )
      .bind(
        buildId,
        turn.session_id,
        turn.project_id,
        `runner:${runnerId}`,
        turn.agent,
        turn.model,
        expiresAt,
        now,
      )
      .run();
    return;
  }
  const finished = status === 'finished' || status === 'abandoned' ? now : null;
  await env.DB.prepare('UPDATE builds SET status = ?, finished_at = ? WHERE id = ?')
    .bind(status, finished, buildId)
    .run();
}

/** The project's list shows the session's new status. */
export async function publishStatus(
  env: Env,
  projectId: string,
  sessionId: string,
  status: SessionStatus,
): Promise<void> {
  await publishProjectEvents(env, projectId, [
    { type: 'session-updated', sessionId, changes: { status } },
  ]);
}

/** Tells the session (its log) that the turn waits for a runner with `agent`. */
export async function appendQueued(env: Env, sessionId: string, agent: string): Promise<void> {
  await env.SESSIONS.getByName(sessionId).appendStatus(
    'queued',
    `waiting for a runner with the ${agent} agent`,
  );
}

/** After a build, the project's list shows the session as its log has it. */
export async function publishFinished(env: Env, turn: TurnRow): Promise<void> {
  // RPC typing flattens SessionState to never (its JSON fields); the value is the state.
  const state = (await env.SESSIONS.getByName(turn.session_id).getState()) as SessionState | null;
  if (!state) return;
  await publishProjectEvents(env, turn.project_id, [
    {
      type: 'session-updated',
      sessionId: turn.session_id,
      changes: {
        status: state.status,
        title: state.title,
        messageCount: state.messages.length,
        totalTokens: state.usage.inputTokens + state.usage.outputTokens,
      },
    },
  ]);
}
