/**
 * Reconnect delays for a person watching (NOTES-PEERS: agentcmd's 1-2-4-8-16 s then 30 s;
 * partysocket's lack of jitter makes a deploy's reconnect a thundering herd).
 *
 * Attempt `n` (0-based) waits a uniformly random time in [½·d, d] with d = min(cap, base·2ⁿ):
 * "equal jitter", so delays spread out yet never collapse to zero.
 */
export interface BackoffPolicy {
  /** First delay, ms (default 1,000). */
  baseMs: number;
  /** Largest delay, ms (default 30,000). */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 30_000 };

/** The delay before reconnect attempt `attempt` (0 = the first retry), ms. */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
