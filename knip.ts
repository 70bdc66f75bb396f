import type { KnipConfig } from 'knip';

/**
 * Unused files, exports and dependencies across the workspace (`pnpm lint` runs it). Entry points
 * beyond what knip's plugins find (vite, vitest, wrangler, drizzle): the CLIs, the scripts and the
 * files other processes start by path. Every ignore below says why.
 */
const config: KnipConfig = {
  workspaces: {
    '.': {
      entry: ['scripts/*.ts'],
      project: ['scripts/**/*.ts'],
      // Started by path (scripts/dev-stack.ts spawns node_modules/wrangler/bin/wrangler.js) and
      // by the docs' `pnpm exec wrangler deploy`; no import names it.
      ignoreDependencies: ['wrangler'],
    },
    protocol: {
      project: ['src/**/*.ts'],
    },
    channel: {
      project: ['src/**/*.ts'],
    },
    worker: {
      // drizzle-kit reads every table exported by the schema (worker/drizzle.config.ts).
      entry: ['test/**/*.ts', 'src/db/schema.ts'],
      project: ['src/**/*.ts', 'test/**/*.ts'],
    },
    web: {
      project: ['src/**/*.{ts,tsx}'],
    },
    runner: {
      // outbox-writer.fixture.ts is run as a child process by outbox.test.ts.
      entry: ['src/**/*.fixture.ts'],
      project: ['src/**/*.ts'],
      ignoreIssues: {
        // PREVIEW_DIR: imported by runner-daemon.ts on branch `previews2` (issue 13, in flight).
        'src/daemon/preview-server.ts': ['exports'],
      },
    },
    e2e: {
      project: ['**/*.ts'],
    },
    bench: {
      // ds-server.ts is the Durable Streams server process the bench spawns by path;
      // producer-process.ts is the chaos tests' producer process; worker/index.ts the bench
      // workerd's main (generated into its wrangler config by src/bench-config.ts).
      entry: ['src/systems/ds-server.ts', 'chaos/producer-process.ts', 'worker/index.ts'],
      project: ['src/**/*.ts', 'worker/**/*.ts', 'chaos/**/*.ts'],
    },
  },
};

export default config;
