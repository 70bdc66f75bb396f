import { sendQuietly } from '@kiln/channel';
import type { HubServerFrame } from '@kiln/protocol';
import type { RunnerSlot } from './dispatch';

/** Headers the worker sets on an authorized `GET /api/runners/connect`. */
export const RUNNER_ID_HEADER = 'x-kiln-runner';
export const RUNNER_NAME_HEADER = 'x-kiln-runner-name';

/** What a runner's control socket carries across hibernation (`serializeAttachment`). */
export interface RunnerAttachment {
  runnerId: string;
  name: string;
  hello?: { instance: string; version: string; agents: string[]; capacity: number };
  activeBuilds: string[];
  lastSeenAt: number;
  badFrames: number;
}

/** A connected runner as `GET /api/runners` shows it. */
export interface LiveRunner {
  runnerId: string;
  version: string | null;
  agents: string[];
  capacity: number;
  activeBuilds: string[];
  lastSeenAt: number;
}

/** The attachment of a runner socket the hub accepted (it sets one on every socket). */
export function attachmentOf(ws: WebSocket): RunnerAttachment {
  return ws.deserializeAttachment() as RunnerAttachment;
}

/** The registry's view of the hub's sockets: runners that said `hello`, as listed. */
export function liveRunners(sockets: WebSocket[]): LiveRunner[] {
  return sockets.flatMap((ws) => {
    const a = attachmentOf(ws);
    if (!a.hello) return [];
    return [
      {
        runnerId: a.runnerId,
        version: a.hello.version,
        agents: a.hello.agents,
        capacity: a.hello.capacity,
        activeBuilds: a.activeBuilds,
        lastSeenAt: a.lastSeenAt,
      },
    ];
  });
}

/** Dispatch's view: each runner that said `hello`, its agents, capacity and current `load`. */
export function runnerSlots(sockets: WebSocket[], load: Map<string, number>): RunnerSlot[] {
  return sockets.flatMap((ws) => {
    const a = attachmentOf(ws);
    if (!a.hello) return [];
    return [
      {
        runnerId: a.runnerId,
        agents: a.hello.agents,
        capacity: a.hello.capacity,
        load: load.get(a.runnerId) ?? 0,
      },
    ];
  });
}

/** Sends a hub frame; a socket that closed meanwhile is left to its close handler (it re-queues). */
export function sendFrame(ws: WebSocket, frame: HubServerFrame): void {
  sendQuietly(ws, JSON.stringify(frame));
}

/**
 * The registry's own rows in the hub's SQLite: which runner last built each project (affinity:
 * its workspace is warm) and when each runner was last heard from.
 */
export class RunnerRecords {
  constructor(private readonly sql: SqlStorage) {}

  migrate(): void {
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS affinity (project_id TEXT PRIMARY KEY, runner_id TEXT NOT NULL)',
    );
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS last_seen (runner_id TEXT PRIMARY KEY, at INTEGER NOT NULL)',
    );
  }

  affinityOf(projectId: string): string | undefined {
    return this.sql
      .exec<{ runner_id: string }>('SELECT runner_id FROM affinity WHERE project_id = ?', projectId)
      .toArray()[0]?.runner_id;
  }

  setAffinity(projectId: string, runnerId: string): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO affinity (project_id, runner_id) VALUES (?, ?)',
      projectId,
      runnerId,
    );
  }

  seen(runnerId: string, at: number): void {
    this.sql.exec('INSERT OR REPLACE INTO last_seen (runner_id, at) VALUES (?, ?)', runnerId, at);
  }

  /** When each runner was last heard from, ms epoch by runner id. */
  lastSeen(): Record<string, number> {
    return Object.fromEntries(
      this.sql
        .exec<{ runner_id: string; at: number }>('SELECT runner_id, at FROM last_seen')
        .toArray()
        .map((r) => [r.runner_id, r.at]),
    );
  }
}
