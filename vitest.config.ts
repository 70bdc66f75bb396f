import { defineConfig } from 'vitest/config';

/** One Vitest run covers every package; each package is a project with its own environment. */
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'protocol', include: ['protocol/src/**/*.test.ts'] } },
      // The runtime-free channel core, in plain Node.
      { test: { name: 'channel', include: ['channel/src/**/*.test.ts'] } },
      {
        test: {
          name: 'runner',
          include: ['runner/src/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      // web (jsdom), worker (workerd) and e2e (the dev stack in Chromium) configure themselves.
      '{web,worker,e2e}/vitest.config.ts',
    ],
  },
});
