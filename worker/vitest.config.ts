import { fileURLToPath } from 'node:url';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

/** Worker tests run inside workerd with the real Durable Objects and D1 with the real migrations. */
export default defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: fileURLToPath(new URL('../wrangler.toml', import.meta.url)) },
      miniflare: {
        bindings: {
          // Lifecycle timers shortened so lease expiry, grace and interrupt deadlines run in tests.
          LEASE_MS: '1500',
          LEASE_GRACE_MS: '1500',
          INTERRUPT_GRACE_MS: '500',
          // Tiny viewer shards, so every test with more than two subscribers goes through one.
          SHARD_THRESHOLD: '2',
          SHARD_CAPACITY: '2',
          // Apps are served when a request's host is this one (worker/src/artifacts/apps.ts).
          APPS_ORIGIN: 'http://apps.test',
          // The operator's token for the full /api/health (worker/src/routes/health.ts).
          OPERATOR_TOKEN: 'test-operator-token',
          TEST_MIGRATIONS: await readD1Migrations(
            fileURLToPath(new URL('../migrations', import.meta.url)),
          ),
        },
      },
    })),
  ],
  test: {
    name: 'worker',
    include: ['worker/**/*.test.ts'],
    root: fileURLToPath(new URL('..', import.meta.url)),
    setupFiles: ['worker/test/setup.ts'],
    testTimeout: 60_000,
  },
});
