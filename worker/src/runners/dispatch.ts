/**
 * Which runner gets a build (DESIGN §1 step 3), as a pure function: a connected runner that has
 * the agent and a free slot, preferring the one that last built the project (its workspace is
 * warm), then the least loaded, then by id so the choice is stable.
 */

export interface RunnerSlot {
  runnerId: string;
  agents: readonly string[];
  capacity: number;
  /** Builds offered to it or running on it. */
  load: number;
}

export function pickRunner(
  runners: readonly RunnerSlot[],
  agent: string,
  affinity: string | undefined,
  exclude: ReadonlySet<string> = new Set(),
): string | undefined {
  const eligible = runners.filter(
    (r) => r.load < r.capacity && r.agents.includes(agent) && !exclude.has(r.runnerId),
  );
  const preferred = eligible.find((r) => r.runnerId === affinity);
  if (preferred) return preferred.runnerId;
  eligible.sort((a, b) => a.load - b.load || a.runnerId.localeCompare(b.runnerId));
  return eligible[0]?.runnerId;
}

/**
 * Why a turn may not queue: its project or its account already has as many open (queued, offered
 * or running) turns as the cap allows; undefined when it may.
 */
export function queueRefusal(
  open: { project: number; account: number },
  caps: { project: number; account: number },
): string | undefined {
  if (open.project >= caps.project) {
    return `this project already has ${open.project} turns waiting or running (at most ${caps.project})`;
  }
  if (open.account >= caps.account) {
    return `this account already has ${open.account} turns waiting or running (at most ${caps.account})`;
  }
  return undefined;
}
