import { DatabaseSync } from 'node:sqlite';
import type { SqlLike, SqlValue, TransactionSync } from '../sqlite-log';

/**
 * A real SQLite database in memory (Node's `node:sqlite`) behind the same `SqlLike` surface as a
 * Durable Object's `ctx.storage.sql`, so the SQLite backends run in plain-Node tests. For tests
 * only: workerd's own SQLite is what production uses.
 */
export function nodeSqlite(): { sql: SqlLike; transactionSync: TransactionSync } {
  const db = new DatabaseSync(':memory:');
  const sql: SqlLike = {
    exec<T extends Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]) {
      const params = bindings.map((b) => {
        if (b instanceof ArrayBuffer) throw new Error('blobs are not used by the stores');
        return b;
      });
      // The rows are what the query selected; the caller names their shape, as with workerd's.
      const rows = db.prepare(query).all(...params) as T[];
      return {
        toArray: () => rows,
        one: () => {
          if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
          return rows[0]!;
        },
        [Symbol.iterator]: () => rows[Symbol.iterator](),
      };
    },
  };
  const transactionSync: TransactionSync = (fn) => {
    db.exec('BEGIN');
    try {
      const result = fn();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  };
  return { sql, transactionSync };
}
