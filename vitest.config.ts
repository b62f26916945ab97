import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

export default defineConfig(async () => {
  const migrations = await readD1Migrations('./migrations');
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          // Two more D1 databases for the scale-out tests (test/shards.test.ts), which turn them on
          // with DATABASES; every other test runs on DB alone, the default deployment.
          d1Databases: { DB: 'torque-tests', DB_1: 'torque-tests-1', DB_2: 'torque-tests-2' },
          // Lets tests call the worker's queue() and scheduled() through `exports.default`.
          compatibilityFlags: ['service_binding_extra_handlers'],
          // Tests drive the consumer themselves (createMessageBatch), so the producer points at a
          // queue nobody consumes; otherwise the local queue would run attempts behind their back.
          // The real queue round trip is covered end to end under wrangler dev (test/e2e).
          queueProducers: { TASKS: { queueName: 'torque-tasks-tests-undelivered' }, TASKS_BULK: { queueName: 'torque-bulk-tests-undelivered' } },
          // A deliberately small limiter for the rate-limit test (the real one allows 1000/10 s).
          // The real per-app limit (1000/10 s) would be shared by every test file enqueueing as the
          // app `default` and could refuse a busy suite at random: tests get a limit they cannot reach.
          ratelimits: {
            TEST_LIMITER: { namespace_id: '9001', simple: { limit: 3, period: 10 } },
            ENQUEUE_LIMITER: { namespace_id: '9002', simple: { limit: 1_000_000, period: 60 } },
          },
          bindings: {
            TEST_MIGRATIONS: migrations,
            // Tests run with auth off unless a test turns it on; retries come fast.
            AUTHENTICATE: 'false',
            // The hook server is on loopback (tests that check the private-address guard turn it on).
            BLOCK_PRIVATE_ADDRESSES: 'false',
            // Every test hook lives on one origin (the hook server's 127.0.0.1:<port>), so circuit
            // breakers (one per origin) would couple unrelated tests of a file: they are off unless a
            // test turns them on (test/flows.test.ts, test/circuits.test.ts).
            BREAKER_THRESHOLD: '0',
            MIN_RETRY_DELAY: '1',
            MAX_RETRY_DELAY: '60',
            SIGNING_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
            ADMIN_TOKEN: 'test-admin-token',
          },
        },
      }),
    ],
    test: {
      include: ['test/**/*.test.ts'],
      exclude: ['test/e2e/**'],
      globalSetup: ['./test/global-setup.ts'],
      setupFiles: ['./test/apply-migrations.ts'],
      testTimeout: 30_000,
      // Two files at a time even on two cores (vitest's default there is one): most of a file's time
      // is waiting on real timers (rates, retries, start windows), not CPU. Every test waits for
      // conditions with deadlines, so a busy machine makes it slower, never wrong.
      maxWorkers: 2,
      // Faults and misconfigurations the tests provoke on purpose are logged by Torque as it would
      // log real ones (and every sweep logs a summary); they are expected here, so they are not
      // printed (a real failure still shows in the test's own output). Runtime noise: quiet-runtime.ts.
      onConsoleLog: (log: string) => !/injected fault|^Invalid Torque configuration|^torque: auth is on|^sweep \{|D1_ERROR: (UNIQUE|string or blob|no such table|D1 DB is overloaded|Network connection lost|SQLITE_BUSY)/.test(log),
    },
  };
});
