/**
 * A D1 binding wrapper for bench and chaos runs: counts the statements and `batch()` calls the
 * SessionDO's write-through makes, and fails every `batch()` while the fault switch is on.
 * Module state: in `wrangler dev` the worker and its Durable Objects share one isolate, so the
 * switch flipped by a request to the worker is seen by every SessionDO.
 */
const stats = { batches: 0, statements: 0, failedBatches: 0 };
let failing = false;

export function d1Stats() {
  return { ...stats, failing };
}

export function setD1Failing(value: boolean): void {
  failing = value;
}

export function resetD1Stats(): void {
  stats.batches = 0;
  stats.statements = 0;
  stats.failedBatches = 0;
}

/** `db` with `batch()` counted and, while the switch is on, refused. */
export function instrumentD1(db: D1Database): D1Database {
  return new Proxy(db, {
    get(target, key) {
      if (key === 'batch') {
        return async (statements: D1PreparedStatement[]) => {
          if (failing) {
            stats.failedBatches++;
            throw new Error('D1_ERROR: fault injected by the bench D1 switch');
          }
          stats.batches++;
          stats.statements += statements.length;
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
