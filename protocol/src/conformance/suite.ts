import { describe } from 'vitest';
import { behindCrowd, suiteContext } from './context';
import { producerTests } from './producers';
import { refusalTests } from './refusals';
import { subscriberTests, VIA_SHARD } from './subscribers';
import type { ConformanceTarget } from './target';

/**
 * The socket and producer contract of PROTOCOL.md §2–§4 as one Vitest suite (modelled on Durable
 * Streams' `runConformanceTests`), run against every server that speaks it: the SessionDO in
 * workerd and the runner's FakeKilnServer. Call it at the top level of a test file. Only
 * standard APIs (timers, JSON, TextEncoder), so it runs in workerd and in Node alike. Presence
 * frames are ignored: their shape is not part of this suite. A part a target declares it lacks
 * (`capabilities`) is skipped by name, never passed.
 */
export function runConformanceTests(target: ConformanceTarget): void {
  const ctx = suiteContext(target);
  describe(`protocol conformance: ${target.name}`, () => {
    subscriberTests(ctx);
    const threshold = target.capabilities.shardThreshold;
    describe.skipIf(threshold === false)('[shardThreshold]', () => {
      subscriberTests(behindCrowd(ctx, threshold || 0), VIA_SHARD);
    });
    producerTests(ctx);
    refusalTests(ctx);
  });
}
