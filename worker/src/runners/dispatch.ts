import type { HubServerFrame } from '@kiln/protocol';
import type { TurnRow } from './turn-queue';

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

/**
 * The `build` command for a leased turn. The previous turn's checkpoint continues the
 * conversation, but only for the same agent: one agent's state means nothing to another.
 */
export function buildFrame(
  turn: TurnRow,
  buildId: string,
  turnId: string,
  checkpoint: { agent: string; state: string } | null | undefined,
): Extract<HubServerFrame, { type: 'build' }> {
  return {
    type: 'build',
    buildId,
    sessionId: turn.session_id,
    projectId: turn.project_id,
    turnId,
    prompt: turn.prompt,
    agent: turn.agent,
    model: turn.model,
    ...(turn.permission_mode ? { permissionMode: turn.permission_mode } : {}),
    ...(checkpoint?.agent === turn.agent ? { checkpoint: JSON.parse(checkpoint.state) } : {}),
  };
}

/**
 * Why no runner could take a turn for `agent`: runners are connected and none offers it.
 * With no runner connected the turn waits (one may connect); the queue caps bound the wait.
 */
export function noRunnerFor(slots: readonly RunnerSlot[], agent: string): string | undefined {
  if (slots.length === 0 || slots.some((r) => r.agents.includes(agent))) return undefined;
  const offered = [...new Set(slots.flatMap((r) => r.agents))].sort().join(', ');
  return `no connected runner offers the ${agent} agent (offered: ${offered})`;
}

/**
 * Runs one dispatch pass at a time: a call while a pass runs does not start a second; it returns
 * at once and makes the running one go again when it ends, so whatever changed meanwhile is seen.
 */
export class CoalescingRunner {
  private running = false;
  private again = false;

  async run(pass: () => Promise<void>): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        await pass();
      } while (this.again);
    } finally {
      this.running = false;
    }
  }
}
