import type { PresenceView, SessionEvent, Viewer } from '@kiln/protocol';
import type { Revocation } from '../auth/socket-access';
import type { Env } from '../env';
import { SESSION_HEADER, SHARD_INDEX_HEADER } from './subscriber';

/**
 * The SessionDO's side of its viewer shards (DESIGN §4, audience scale): which shard takes the
 * next subscriber, one batch per flush to each shard with sockets, and the viewers watching
 * through them. Socket counts and viewers live in the DO SQLite table
 * `shards(idx PK, sockets, viewers)`.
 */
export class ShardRouter {
  constructor(
    private readonly sql: SqlStorage,
    private readonly env: Env,
    private readonly sessionId: () => string,
    private readonly capacity: number,
  ) {}

  /** Creates the table if it does not exist; run at start-up, under blockConcurrencyWhile. */
  migrate(): void {
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS shards (idx INTEGER PRIMARY KEY, sockets INTEGER NOT NULL, viewers TEXT NOT NULL)',
    );
  }

  /** Hands a subscriber upgrade to the first shard with room, or a new one. */
  handTo(request: Request): Promise<Response> {
    const shards = this.rows();
    const index =
      shards.find((s) => s.sockets < this.capacity)?.index ??
      Math.max(-1, ...shards.map((s) => s.index)) + 1;
    const shard = shards.find((s) => s.index === index);
    // Count it now so a burst of upgrades spreads over shards before their reports arrive.
    this.put(index, (shard?.sockets ?? 0) + 1, shard?.viewers ?? []);
    const headers = new Headers(request.headers);
    headers.set(SESSION_HEADER, this.sessionId());
    headers.set(SHARD_INDEX_HEADER, String(index));
    return this.stub(index).fetch(new Request(request, { headers }));
  }

  /** One batch per flush to every shard with sockets. */
  deliver(events: SessionEvent[]): void {
    const sessionId = this.sessionId();
    for (const shard of this.rows()) {
      if (shard.sockets === 0) continue;
      this.stub(shard.index)
        .deliver(sessionId, events)
        // The shard fetches what it missed on its next delivery; nothing else to do here.
        .catch((error: unknown) => console.warn(`delivery to shard ${shard.index} failed`, error));
    }
  }

  /** A shard's report: who watches through it, and how many of its sockets closed. */
  report(index: number, closed: number, viewers: Viewer[]): void {
    const sockets = this.rows().find((s) => s.index === index)?.sockets ?? 0;
    this.put(index, Math.max(0, sockets - closed), viewers);
  }

  /** Passes a revocation to every shard with sockets; returns the revoked person's sockets left. */
  async revoke(change: Revocation): Promise<number> {
    const shards = this.rows().filter((shard) => shard.sockets > 0);
    const left = await Promise.all(shards.map((shard) => this.stub(shard.index).revoke(change)));
    return left.reduce((a, b) => a + b, 0);
  }

  /** Passes the merged presence view on to every shard with sockets. */
  sendPresence(view: PresenceView): void {
    for (const shard of this.rows()) {
      if (shard.sockets === 0) continue;
      this.stub(shard.index)
        .deliverPresence(view)
        .catch((error: unknown) => console.warn(`presence to shard ${shard.index} failed`, error));
    }
  }

  /** Viewer shards by index, with their socket counts and viewers (as each last reported). */
  rows(): { index: number; sockets: number; viewers: Viewer[] }[] {
    return this.sql
      .exec<{ idx: number; sockets: number; viewers: string }>('SELECT * FROM shards ORDER BY idx')
      .toArray()
      .map((row) => ({
        index: row.idx,
        sockets: row.sockets,
        viewers: JSON.parse(row.viewers) as Viewer[],
      }));
  }

  private put(index: number, sockets: number, viewers: readonly Viewer[]): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO shards (idx, sockets, viewers) VALUES (?, ?, ?)',
      index,
      sockets,
      JSON.stringify(viewers),
    );
  }

  private stub(index: number) {
    return this.env.VIEWER_SHARDS.getByName(`${this.sessionId()}#${index}`);
  }
}
