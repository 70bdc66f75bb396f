import { defineConfig } from 'vitest/config';

/** One Vitest run covers every package; each package is a project with its own environment. */
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'protocol', include: ['protocol/src/**/*.test.ts'] } },
      {
        test: {
          name: 'runner',
          include: ['runner/src/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      'web/vitest.config.ts',
      'worker/vitest.config.ts',
      'e2e/vitest.config.ts',
    ],
  },
});
