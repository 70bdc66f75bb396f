import { defineConfig } from 'drizzle-kit';

/** `pnpm db:generate` writes SQL migrations for D1 into migrations/ from the schema. */
export default defineConfig({
  dialect: 'sqlite',
  schema: './worker/src/db/schema.ts',
  out: './migrations',
});
