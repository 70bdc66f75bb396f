import type { LeaseStatus, RunnerEventBody, SessionState } from '@kiln/protocol';

/**
 * Build lease lifecycle (DESIGN §4), as pure decisions the SessionDO applies:
 * `leased` → (silent past its lease) `expired` → (back within the grace period) `leased` again,
 * or (grace over) `lost`, which ends the build's running turn exactly once.
 */

export interface LeaseView {
  buildId: string;
  status: LeaseStatus;
  /** `leased`: when the lease ends unless renewed; `expired`: when the grace period ends. */
  leaseExpiresAt: number;
  /** Latest sign of life not yet counted in `leaseExpiresAt` (an auto-answered ping), ms epoch. */
  lastPingAt?: number;
}

export type LeaseAction =
  | { kind: 'renew'; buildId: string; leaseExpiresAt: number }
  | { kind: 'expire'; buildId: string; graceUntil: number }
  | { kind: 'lose'; buildId: string };

/** What to do with each build at `now`, and when to look again (undefined: nothing to watch). */
export function leaseActions(
  builds: readonly LeaseView[],
  now: number,
  leaseMs: number,
  graceMs: number,
): { actions: LeaseAction[]; nextCheckAt: number | undefined } {
  const actions: LeaseAction[] = [];
  let nextCheckAt: number | undefined;
  const watch = (at: number) => {
    nextCheckAt = nextCheckAt === undefined ? at : Math.min(nextCheckAt, at);
  };
  for (const build of builds) {
    if (build.status === 'leased') {
      const pingExpiry = build.lastPingAt === undefined ? 0 : build.lastPingAt + leaseMs;
      if (pingExpiry > build.leaseExpiresAt && pingExpiry > now) {
        actions.push({ kind: 'renew', buildId: build.buildId, leaseExpiresAt: pingExpiry });
        watch(pingExpiry);
      } else if (build.leaseExpiresAt <= now) {
        actions.push({ kind: 'expire', buildId: build.buildId, graceUntil: now + graceMs });
        watch(now + graceMs);
      } else {
        watch(build.leaseExpiresAt);
      }
    } else if (build.status === 'expired') {
      if (build.leaseExpiresAt <= now) actions.push({ kind: 'lose', buildId: build.buildId });
      else watch(build.leaseExpiresAt);
    }
  }
  return { actions, nextCheckAt };
}

/**
 * The `turn-finished` that ends `buildId`'s running turn when its runner is gone: `completed` if
 * the main agent's todos are all done (auto-finalize), else `failed` with `reason`. Undefined when
 * the build has no running turn, so a turn is never finished twice.
 */
export function finishOrphanedTurn(
  state: SessionState,
  buildId: string | undefined,
  reason: 'runner-lost' | 'stuck' | 'interrupted',
  now: number,
): RunnerEventBody | undefined {
  const turn = state.turns.findLast(
    (t) => t.status === 'running' && (buildId === undefined || t.buildId === buildId),
  );
  if (!turn) return undefined;
  const durationMs = Math.max(0, now - turn.startedAt);
  if (reason === 'interrupted') {
    return { type: 'turn-finished', turnId: turn.turnId, status: 'interrupted', durationMs };
  }
  const allDone = state.todos.length > 0 && state.todos.every((t) => t.status === 'completed');
  return allDone
    ? { type: 'turn-finished', turnId: turn.turnId, status: 'completed', durationMs }
    : { type: 'turn-finished', turnId: turn.turnId, status: 'failed', error: reason, durationMs };
}
