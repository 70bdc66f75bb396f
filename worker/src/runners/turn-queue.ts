import type { HubTurnStatus, PermissionMode } from '@kiln/protocol';

/** One turn to run: a person's message waiting for, offered to, or running on a runner. */
export interface TurnRequest {
  messageId: string;
  sessionId: string;
  projectId: string;
  /** The account the turn counts against (the project owner's: whose hub builds it). */
  accountId: string;
  prompt: string;
  agent: string;
  model: string;
  /** What the agent may do without asking; absent = the agent's default. */
  permissionMode?: PermissionMode;
}

/** A row of the hub's `turns` table. */
export type TurnRow = {
  seq: number;
  message_id: string;
  session_id: string;
  project_id: string;
  account_id: string;
  prompt: string;
  agent: string;
  model: string;
  permission_mode: PermissionMode | null;
  status: HubTurnStatus;
  build_id: string | null;
  turn_id: string | null;
  runner_id: string | null;
  rejected_by: string;
  updated_at: number;
};

const TURNS_TABLE = `CREATE TABLE IF NOT EXISTS turns (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL,
  session_id TEXT NOT NULL, project_id TEXT NOT NULL, account_id TEXT NOT NULL DEFAULT '',
  prompt TEXT NOT NULL, agent TEXT NOT NULL, model TEXT NOT NULL, permission_mode TEXT,
  status TEXT NOT NULL, build_id TEXT, turn_id TEXT, runner_id TEXT,
  rejected_by TEXT NOT NULL DEFAULT '[]', updated_at INTEGER NOT NULL,
  UNIQUE (session_id, message_id))`;

/** Turns not finished: they hold a place in the queue (and count against the caps). */
const OPEN = "status IN ('queued', 'offered', 'running')";

/**
 * The hub's queue of turns in DO SQLite, indexed so dispatch reads only turns it can start: by
 * (status, agent, seq) for the queue of one agent, by session for "one turn per session at a
 * time", by build, runner, project and account. Every read adds SQLite's `rowsRead` to
 * `rowsRead`, so a test can count the work a dispatch pass did.
 */
export class TurnQueue {
  /** Rows SQLite read for this queue since the object started. */
  rowsRead = 0;

  constructor(private readonly sql: SqlStorage) {}

  /** Creates the table and its indexes; a hub from before per-session dedup is rebuilt once. */
  migrate(): void {
    const existing = this.sql
      .exec<{ sql: string }>(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'turns'",
      )
      .toArray()[0]?.sql;
    if (existing && !existing.includes('UNIQUE (session_id, message_id)')) {
      // The first table keyed turns by message id alone across the hub: a message id reused in
      // another session never started. Copy the rows into the per-session table.
      const columns = this.sql
        .exec<{ name: string }>('PRAGMA table_info(turns)')
        .toArray()
        .map((c) => c.name);
      const mode = columns.includes('permission_mode') ? 'permission_mode' : 'NULL';
      this.sql.exec('ALTER TABLE turns RENAME TO turns_v1');
      this.sql.exec(TURNS_TABLE);
      this.sql.exec(`INSERT INTO turns (seq, message_id, session_id, project_id, prompt, agent, model,
          permission_mode, status, build_id, turn_id, runner_id, rejected_by, updated_at)
        SELECT seq, message_id, session_id, project_id, prompt, agent, model, ${mode}, status,
          build_id, turn_id, runner_id, rejected_by, updated_at FROM turns_v1`);
      this.sql.exec('DROP TABLE turns_v1');
    }
    this.sql.exec(TURNS_TABLE);
    this.sql.exec('CREATE INDEX IF NOT EXISTS turns_queue ON turns (status, agent, seq)');
    this.sql.exec('CREATE INDEX IF NOT EXISTS turns_session ON turns (session_id, status, seq)');
    this.sql.exec('CREATE INDEX IF NOT EXISTS turns_build ON turns (build_id)');
    this.sql.exec('CREATE INDEX IF NOT EXISTS turns_runner ON turns (runner_id, status)');
    this.sql.exec('CREATE INDEX IF NOT EXISTS turns_project ON turns (project_id, status)');
    this.sql.exec('CREATE INDEX IF NOT EXISTS turns_account ON turns (account_id, status)');
  }

  /** Inserts a turn with `status`; false when the session already has this message. */
  insert(turn: TurnRequest, status: HubTurnStatus): boolean {
    const cursor = this.sql.exec(
      `INSERT OR IGNORE INTO turns (message_id, session_id, project_id, account_id, prompt, agent,
         model, permission_mode, status, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      turn.messageId,
      turn.sessionId,
      turn.projectId,
      turn.accountId,
      turn.prompt,
      turn.agent,
      turn.model,
      turn.permissionMode ?? null,
      status,
      Date.now(),
    );
    return cursor.rowsWritten > 0;
  }

  byMessage(sessionId: string, messageId: string): TurnRow | undefined {
    return this.select('session_id = ? AND message_id = ?', sessionId, messageId)[0];
  }

  byBuild(buildId: string): TurnRow | undefined {
    return this.select('build_id = ?', buildId)[0];
  }

  /** Turns in `status` (offered, running…), optionally of one runner, session or project. */
  withStatus(
    status: HubTurnStatus,
    of?: { runnerId?: string; sessionId?: string; projectId?: string; updatedBefore?: number },
  ): TurnRow[] {
    const filters: [string, string | number | undefined][] = [
      ['runner_id = ?', of?.runnerId],
      ['session_id = ?', of?.sessionId],
      ['project_id = ?', of?.projectId],
      ['updated_at <= ?', of?.updatedBefore],
    ];
    const where = ['status = ?'];
    const params: (string | number)[] = [status];
    for (const [clause, value] of filters) {
      if (value === undefined) continue;
      where.push(clause);
      params.push(value);
    }
    return this.select(where.join(' AND '), ...params);
  }

  /** Open turns (queued, offered or running) of a session or a project. */
  open(of: { sessionId: string } | { projectId: string }): TurnRow[] {
    return 'sessionId' in of
      ? this.select(`session_id = ? AND ${OPEN}`, of.sessionId)
      : this.select(`project_id = ? AND ${OPEN}`, of.projectId);
  }

  /** How many open turns a project and an account have (for the queue caps). */
  openCounts(projectId: string, accountId: string): { project: number; account: number } {
    const count = (column: 'project_id' | 'account_id', value: string) =>
      this.read<{ n: number }>(
        `SELECT COUNT(*) AS n FROM turns WHERE ${column} = ? AND ${OPEN}`,
        value,
      )[0]?.n ?? 0;
    return { project: count('project_id', projectId), account: count('account_id', accountId) };
  }

  /**
   * Up to `limit` queued turns of `agent` that may start now, oldest first: each its session's
   * oldest queued turn, in a session with nothing offered or running. Reads only that agent's
   * part of the queue.
   */
  startable(agent: string, limit: number): TurnRow[] {
    return this.read<TurnRow>(
      `SELECT t.* FROM turns t
       WHERE t.status = 'queued' AND t.agent = ?
         AND NOT EXISTS (SELECT 1 FROM turns b WHERE b.session_id = t.session_id
                         AND b.status IN ('offered', 'running'))
         AND NOT EXISTS (SELECT 1 FROM turns o WHERE o.session_id = t.session_id
                         AND o.status = 'queued' AND o.seq < t.seq)
       ORDER BY t.seq LIMIT ?`,
      agent,
      limit,
    );
  }

  /** Offered and running turns per runner id. */
  loadByRunner(): Map<string, number> {
    const rows = this.read<{ runner_id: string; n: number }>(
      `SELECT runner_id, COUNT(*) AS n FROM turns
       WHERE status IN ('offered', 'running') AND runner_id IS NOT NULL GROUP BY runner_id`,
    );
    return new Map(rows.map((r) => [r.runner_id, r.n]));
  }

  /** Updates a turn (and its `updated_at`). */
  set(seq: number, changes: Partial<Omit<TurnRow, 'seq'>>): void {
    const entries = Object.entries({ ...changes, updated_at: Date.now() });
    this.sql.exec(
      `UPDATE turns SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE seq = ?`,
      ...entries.map(([, v]) => v as string | number | null),
      seq,
    );
  }

  private select(where: string, ...params: (string | number)[]): TurnRow[] {
    return this.read<TurnRow>(`SELECT * FROM turns WHERE ${where} ORDER BY seq`, ...params);
  }

  private read<T extends Record<string, SqlStorageValue>>(
    query: string,
    ...params: (string | number)[]
  ): T[] {
    const cursor = this.sql.exec<T>(query, ...params);
    const rows = cursor.toArray();
    this.rowsRead += cursor.rowsRead;
    return rows;
  }
}
