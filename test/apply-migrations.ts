import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';

// Setup files run before each test file; applyD1Migrations skips what is already applied.
// Every database gets the whole schema, as `npm run migrate` and the deploy steps do.
const migrations = (env as unknown as { TEST_MIGRATIONS: Parameters<typeof applyD1Migrations>[1] }).TEST_MIGRATIONS;
const { DB_1, DB_2 } = env as unknown as Record<'DB_1' | 'DB_2', D1Database>; // test-only bindings (vitest.config.ts)
for (const db of [env.DB, DB_1, DB_2]) await applyD1Migrations(db, migrations);
