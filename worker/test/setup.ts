import { applyD1Migrations, env } from 'cloudflare:test';

// The real migrations, applied to this test run's D1 (idempotent across files).
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
