import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Whole-system tests: the dev stack (wrangler dev), the runner CLI and headless Chromium. */
export default defineConfig({
  test: {
    name: 'e2e',
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['e2e/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // One stack at a time: the machine has two cores.
    fileParallelism: false,
  },
});
