import { defineConfig } from 'drizzle-kit';

// Only generates SQL into migrations/; wrangler (and the tests) apply it to D1.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/store/schema.ts',
  out: './migrations',
});
