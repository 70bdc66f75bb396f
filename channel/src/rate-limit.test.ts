import { describe, expect, it } from 'vitest';
import { TokenBucket } from './rate-limit';

/** The bucket on a clock the test sets: what it grants depends only on the times it is given. */
describe('TokenBucket', () => {
  it('grants its burst at once, then refuses until time refills it', () => {
    const bucket = new TokenBucket(20, 40, 0);
    const granted = Array.from({ length: 50 }, () => bucket.take(1, 0)).filter(Boolean);
    expect(granted).toHaveLength(40);
    expect(bucket.take(1, 0)).toBe(false);
    expect(bucket.take(1, 40)).toBe(false); // 0.8 of a token
    expect(bucket.take(1, 50)).toBe(true); // one token after 1/20 s
    expect(bucket.take(1, 50)).toBe(false);
  });

  it('refills at the rate, never past the burst', () => {
    const bucket = new TokenBucket(20, 40, 0);
    for (let i = 0; i < 40; i++) bucket.take(1, 0);
    // Half a second refills 10 tokens.
    expect(Array.from({ length: 15 }, () => bucket.take(1, 500)).filter(Boolean)).toHaveLength(10);
    // An hour idle refills the burst and no more.
    const later = 500 + 3_600_000;
    expect(Array.from({ length: 100 }, () => bucket.take(1, later)).filter(Boolean)).toHaveLength(
      40,
    );
  });

  it('takes a cost of several tokens only when all are there, and a refused take costs nothing', () => {
    const bucket = new TokenBucket(10, 10, 0);
    expect(bucket.take(8, 0)).toBe(true);
    expect(bucket.take(5, 0)).toBe(false);
    expect(bucket.take(2, 0)).toBe(true);
    expect(bucket.take(1, 0)).toBe(false);
    expect(bucket.take(10, 1000)).toBe(true);
  });

  it('grants at most burst + rate × elapsed over any run of takes, however they are spaced', () => {
    const bucket = new TokenBucket(20, 40, 0);
    let granted = 0;
    let now = 0;
    for (let i = 0; i < 1000; i++) {
      now += (i * 7919) % 13; // 0–12 ms apart, deterministic
      if (bucket.take(1, now)) granted++;
    }
    expect(granted).toBeLessThanOrEqual(40 + (20 * now) / 1000);
    expect(granted).toBeGreaterThanOrEqual(Math.floor((20 * now) / 1000));
  });
});
