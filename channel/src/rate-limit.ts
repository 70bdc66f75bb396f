/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`. In memory only, per
 * socket; an object woken from hibernation starts every bucket full, which only ever lets a
 * client through, never refuses it wrongly.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** Takes `cost` tokens if there are enough; returns whether it did. */
  take(cost: number, now: number): boolean {
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond,
    );
    this.updatedAt = now;
    if (cost > this.tokens) return false;
    this.tokens -= cost;
    return true;
  }
}
