import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type RunnerEventBody, runnerEventBody, type SessionState } from '@kiln/protocol';
import { stateFrom } from '@kiln/protocol/testing';
import type { Agent, TurnContext } from './agent';

/** A turn run in a test, with everything it emitted. */
export interface TurnRun {
  events: RunnerEventBody[];
  /** The session state after the daemon's turn-started, the events and turn-finished. */
  state: SessionState;
  /** The checkpoint's state, if the agent emitted one. */
  checkpoint: unknown;
}

/** A temporary workspace directory (real path). */
export async function tempWorkspace(): Promise<{ root: string; dispose(): Promise<void> }> {
  const root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'kiln-agent-')));
  return { root, dispose: () => rm(root, { recursive: true, force: true }) };
}

/**
 * Runs one turn of an agent the way the daemon will: validates every emitted event against the
 * protocol, then folds turn-started + the events + turn-finished through the protocol reducer.
 * `onEvent` sees each event as it is emitted (to interrupt mid-turn).
 */
export async function runTurn(
  agent: Agent,
  options: Partial<TurnContext> & { workspace: string; prompt: string },
  onEvent?: (event: RunnerEventBody) => void,
): Promise<TurnRun> {
  const events: RunnerEventBody[] = [];
  const turnId = options.turnId ?? 'turn-1';
  const ctx: TurnContext = {
    buildId: 'build-1',
    sessionId: 'session-1',
    projectId: 'project-1',
    turnId,
    model: '',
    signal: new AbortController().signal,
    ...options,
    emit: (event) => {
      events.push(runnerEventBody.parse(event));
      onEvent?.(event);
    },
  };
  const started = performance.now();
  let error: unknown;
  try {
    await agent.run(ctx);
  } catch (thrown) {
    error = thrown;
  }
  const bodies: RunnerEventBody[] = [
    {
      type: 'turn-started',
      turnId,
      buildId: ctx.buildId,
      runnerId: 'r',
      agent: agent.name,
      model: ctx.model,
    },
    ...events,
    {
      type: 'turn-finished',
      turnId,
      status: ctx.signal.aborted ? 'interrupted' : error ? 'failed' : 'completed',
      durationMs: performance.now() - started,
    },
  ];
  const state = stateFrom(bodies, ctx.sessionId, ctx.projectId);
  if (error)
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), {
      run: { events, state },
    });
  const checkpoint = events.findLast((e) => e.type === 'checkpoint');
  return {
    events,
    state,
    checkpoint: checkpoint?.type === 'checkpoint' ? checkpoint.state : undefined,
  };
}
