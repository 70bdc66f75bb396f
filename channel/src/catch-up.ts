/**
 * How to bring a subscriber that has `lastSeq` up to `headSeq` (DESIGN §3):
 * - `ahead`: it claims events the log does not have (the log was reset, or a bug): tell it, then
 *   send a snapshot;
 * - `none`: it is up to date;
 * - `events`: send `lastSeq+1 … headSeq` in bounded rounds;
 * - `snapshot`: more than `replayLimit` events are missing: send the state at head instead.
 */
export type CatchUp =
  | { kind: 'ahead' }
  | { kind: 'none' }
  | { kind: 'events'; after: number }
  | { kind: 'snapshot' };

export function planCatchUp(lastSeq: number, headSeq: number, replayLimit: number): CatchUp {
  if (lastSeq > headSeq) return { kind: 'ahead' };
  if (lastSeq === headSeq) return { kind: 'none' };
  if (headSeq - lastSeq > replayLimit) return { kind: 'snapshot' };
  return { kind: 'events', after: lastSeq };
}
