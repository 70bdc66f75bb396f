import { type RunnerEventBody, runnerEventBody } from '@kiln/protocol';
import { type Client, createClient, type InStatement } from '@libsql/client';

/** An event waiting in the outbox, with the producer seq it was stored under. */
export interface OutboxEntry {
  producerSeq: number;
  event: RunnerEventBody;
}

/** A build with events not yet acknowledged by the SessionDO (to resume after a restart). */
export interface PendingBuild {
  buildId: string;
  /** The producer epoch last handed out for the build. */
  epoch: number;
  /** Highest producer seq the server acknowledged. */
  ackedSeq: number;
  /** Producer seqs still stored: `firstSeq … lastSeq`, `count` of them. */
  firstSeq: number;
  lastSeq: number;
  count: number;
}

/** What a daemon needs to resume a build after a restart: where its events go and its turn. */
export interface BuildInfo {
  buildId: string;
  sessionId: string;
  projectId: string;
  turnId: string;
  agent: string;
}

/** A build the daemon must resume on start: events still unacknowledged or a turn never ended. */
export interface ResumableBuild extends BuildInfo {
  /** The producer epoch last handed out for the build. */
  epoch: number;
  /** Highest producer seq the server acknowledged (as far as this file knows). */
  ackedSeq: number;
  /** The next producer seq to hand out. */
  nextSeq: number;
  /** Whether the turn's `turn-finished` is stored (sent or not). */
  finished: boolean;
}

const SCHEMA = [
  // One row per build: its epoch, the next producer seq to hand out and the acked one. Kept after
  // every event is acked while the build may still produce, because producer seqs and epochs
  // must never go back (PROTOCOL §3); `forget` drops it once the build has finished and all of it
  // is acked (build ids are never reused, so nothing resumes it).
  `CREATE TABLE IF NOT EXISTS outbox_builds (
     build_id   TEXT PRIMARY KEY,
     epoch      INTEGER NOT NULL DEFAULT 0,
     next_seq   INTEGER NOT NULL DEFAULT 1,
     acked_seq  INTEGER NOT NULL DEFAULT 0
   )`,
  `CREATE TABLE IF NOT EXISTS outbox_events (
     build_id     TEXT NOT NULL,
     producer_seq INTEGER NOT NULL,
     body         TEXT NOT NULL,
     PRIMARY KEY (build_id, producer_seq)
   ) WITHOUT ROWID`,
  // The daemon's builds (kiln replay and bench producers have none): enough to reopen the ingest
  // socket after a restart. `finished` is set in the same transaction that stores turn-finished.
  `CREATE TABLE IF NOT EXISTS outbox_build_info (
     build_id   TEXT PRIMARY KEY,
     session_id TEXT NOT NULL,
     project_id TEXT NOT NULL,
     turn_id    TEXT NOT NULL,
     agent      TEXT NOT NULL,
     finished   INTEGER NOT NULL DEFAULT 0
   )`,
];

/**
 * The runner's durable outbox (DESIGN §1 step 4): every event is written here, under the next
 * producer seq of its build, before it is sent; it is deleted when the SessionDO acknowledges it.
 * A libSQL (SQLite) file in WAL mode with `synchronous=NORMAL`: a committed append survives the
 * process being killed at any point (the WAL is written before `append` resolves); after a power
 * loss the last few appends may be lost, never reordered or half-written.
 *
 * Several processes may open the same file; appends are serialised by SQLite's write lock, so
 * producer seqs stay contiguous per build.
 */
export class Outbox {
  private constructor(private readonly client: Client) {}

  /** Opens (creating if needed) the outbox at a path or `file:` URL. */
  static async open(pathOrUrl: string): Promise<Outbox> {
    const url = pathOrUrl.startsWith('file:') ? pathOrUrl : `file:${pathOrUrl}`;
    // One connection, so the per-connection pragmas below hold for every statement.
    const client = createClient({ url, concurrency: 1 });
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA synchronous = NORMAL');
    // Another process holding the write lock makes us wait this long (ms) rather than fail.
    await client.execute('PRAGMA busy_timeout = 5000');
    await client.batch(SCHEMA, 'write');
    return new Outbox(client);
  }

  /**
   * Stores events for a build under the next producer seqs, atomically (all or none), and
   * returns those seqs: contiguous, starting at 1 for a new build, never reused.
   */
  async append(buildId: string, events: readonly RunnerEventBody[]): Promise<number[]> {
    if (events.length === 0) return [];
    const statements: InStatement[] = [
      {
        sql: 'INSERT INTO outbox_builds (build_id) VALUES (?) ON CONFLICT DO NOTHING',
        args: [buildId],
      },
      ...events.map((event, i) => ({
        sql: `INSERT INTO outbox_events (build_id, producer_seq, body)
              SELECT build_id, next_seq + ?, ? FROM outbox_builds WHERE build_id = ?`,
        args: [i, JSON.stringify(event), buildId],
      })),
      ...(events.some((e) => e.type === 'turn-finished')
        ? [
            {
              sql: 'UPDATE outbox_build_info SET finished = 1 WHERE build_id = ?',
              args: [buildId],
            },
          ]
        : []),
      {
        sql: 'UPDATE outbox_builds SET next_seq = next_seq + ? WHERE build_id = ? RETURNING next_seq',
        args: [events.length, buildId],
      },
    ];
    const results = await this.client.batch(statements, 'write');
    const next = Number(results.at(-1)?.rows[0]?.next_seq);
    const first = next - events.length;
    return events.map((_, i) => first + i);
  }

  /**
   * Up to `limit` stored events of a build with producer seq above `afterSeq`, in seq order.
   * Throws if a stored body no longer parses as a runner event (a corrupt or foreign file).
   */
  async unacked(buildId: string, afterSeq = 0, limit = 1000): Promise<OutboxEntry[]> {
    const result = await this.client.execute({
      sql: `SELECT producer_seq, body FROM outbox_events
            WHERE build_id = ? AND producer_seq > ? ORDER BY producer_seq LIMIT ?`,
      args: [buildId, afterSeq, limit],
    });
    return result.rows.map((row) => ({
      producerSeq: Number(row.producer_seq),
      event: runnerEventBody.parse(JSON.parse(String(row.body))),
    }));
  }

  /** Deletes every event of the build at or below `producerSeq` (they are durable server-side). */
  async ack(buildId: string, producerSeq: number): Promise<void> {
    await this.client.batch(
      [
        {
          sql: 'DELETE FROM outbox_events WHERE build_id = ? AND producer_seq <= ?',
          args: [buildId, producerSeq],
        },
        {
          sql: 'UPDATE outbox_builds SET acked_seq = max(acked_seq, ?) WHERE build_id = ?',
          args: [producerSeq, buildId],
        },
      ],
      'write',
    );
  }

  /**
   * Raises and persists the build's producer epoch, returning the new one (1 on the first open).
   * Call it once each time a process starts producing for the build; the ingest `hello` carries it.
   */
  async nextEpoch(buildId: string): Promise<number> {
    const result = await this.client.execute({
      sql: `INSERT INTO outbox_builds (build_id, epoch) VALUES (?, 1)
            ON CONFLICT (build_id) DO UPDATE SET epoch = epoch + 1 RETURNING epoch`,
      args: [buildId],
    });
    return Number(result.rows[0]?.epoch);
  }

  /** Builds that still have stored events, oldest build id first. */
  async pendingBuilds(): Promise<PendingBuild[]> {
    const result = await this.client.execute(
      `SELECT b.build_id, b.epoch, b.acked_seq,
              min(e.producer_seq) AS first_seq, max(e.producer_seq) AS last_seq, count(*) AS count
       FROM outbox_events e JOIN outbox_builds b USING (build_id)
       GROUP BY b.build_id ORDER BY b.build_id`,
    );
    return result.rows.map((row) => ({
      buildId: String(row.build_id),
      epoch: Number(row.epoch),
      ackedSeq: Number(row.acked_seq),
      firstSeq: Number(row.first_seq),
      lastSeq: Number(row.last_seq),
      count: Number(row.count),
    }));
  }

  /** This outbox as one build's `ProducerStore` (the ingest producer's durable layer). */
  forBuild(buildId: string): {
    append(events: readonly RunnerEventBody[]): Promise<number[]>;
    ack(producerSeq: number): Promise<void>;
  } {
    return {
      append: (events) => this.append(buildId, events),
      ack: (producerSeq) => this.ack(buildId, producerSeq),
    };
  }

  /** Records a daemon build before its first event, so a restart can resume it. */
  async describeBuild(info: BuildInfo): Promise<void> {
    await this.client.batch(
      [
        {
          sql: 'INSERT INTO outbox_builds (build_id) VALUES (?) ON CONFLICT DO NOTHING',
          args: [info.buildId],
        },
        {
          sql: `INSERT INTO outbox_build_info (build_id, session_id, project_id, turn_id, agent)
                VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          args: [info.buildId, info.sessionId, info.projectId, info.turnId, info.agent],
        },
      ],
      'write',
    );
  }

  /**
   * The daemon builds to resume: described ones that still hold events or whose turn never
   * stored its `turn-finished`. Builds are dropped from this list by `forget`.
   */
  async resumableBuilds(): Promise<ResumableBuild[]> {
    const result = await this.client.execute(
      `SELECT i.build_id, i.session_id, i.project_id, i.turn_id, i.agent, i.finished,
              b.epoch, b.acked_seq, b.next_seq
       FROM outbox_build_info i JOIN outbox_builds b USING (build_id)
       WHERE i.finished = 0
          OR EXISTS (SELECT 1 FROM outbox_events e WHERE e.build_id = i.build_id)
       ORDER BY i.build_id`,
    );
    return result.rows.map((row) => ({
      buildId: String(row.build_id),
      sessionId: String(row.session_id),
      projectId: String(row.project_id),
      turnId: String(row.turn_id),
      agent: String(row.agent),
      finished: Number(row.finished) === 1,
      epoch: Number(row.epoch),
      ackedSeq: Number(row.acked_seq),
      nextSeq: Number(row.next_seq),
    }));
  }

  /** Every stored event of a build above `afterSeq`, in seq order (pages of 1,000). */
  async allUnacked(buildId: string, afterSeq = 0): Promise<OutboxEntry[]> {
    const entries: OutboxEntry[] = [];
    for (;;) {
      const page = await this.unacked(buildId, entries.at(-1)?.producerSeq ?? afterSeq, 1000);
      entries.push(...page);
      if (page.length < 1000) return entries;
    }
  }

  /** Forgets a finished build entirely (its events and seq state). Only once it is all acked. */
  async forget(buildId: string): Promise<void> {
    await this.client.batch(
      [
        { sql: 'DELETE FROM outbox_events WHERE build_id = ?', args: [buildId] },
        { sql: 'DELETE FROM outbox_builds WHERE build_id = ?', args: [buildId] },
        { sql: 'DELETE FROM outbox_build_info WHERE build_id = ?', args: [buildId] },
      ],
      'write',
    );
  }

  close(): void {
    this.client.close();
  }
}
