/**
 * The Durable Streams live readers of one SessionDO (long-poll requests and SSE connections
 * waiting for an event after their offset). The object calls `wake` after every commit; each
 * waiter resolves `true` once an event with seq > its `after` exists, or `false` at its timeout.
 */
export class CommitWaiters {
  private readonly waiting = new Set<{
    after: number;
    resolve: (arrived: boolean) => void;
    timer: ReturnType<typeof setTimeout>;
  }>();

  /**
   * Resolves `true` at once when `headSeq > after`, else on the first commit past `after`;
   * `false` after `timeoutMs` (ms) without one.
   */
  wait(after: number, headSeq: number, timeoutMs: number): Promise<boolean> {
    if (headSeq > after) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        after,
        resolve,
        timer: setTimeout(() => {
          this.waiting.delete(waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiting.add(waiter);
    });
  }

  /** How many readers are waiting (tests wait until a reader is parked before committing). */
  get size(): number {
    return this.waiting.size;
  }

  /** Called after a commit: releases every waiter whose offset is now behind `headSeq`. */
  wake(headSeq: number): void {
    for (const waiter of this.waiting) {
      if (headSeq <= waiter.after) continue;
      clearTimeout(waiter.timer);
      this.waiting.delete(waiter);
      waiter.resolve(true);
    }
  }
}
