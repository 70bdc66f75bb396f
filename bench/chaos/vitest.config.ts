import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Chaos tests (`pnpm test:chaos`): real faults against the bench workerd. Not part of `pnpm test`. */
export default defineConfig({
  test: {
    name: 'chaos',
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['bench/chaos/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
