// `npm run bench -- sweep`: what one sweeper tick does per database, with 1 and 8 databases, and
// how long a big backlog takes to drain. Each database gets a backlog of each kind of work
// (BENCH_SWEEP_ROWS each, default 60,000: more than a minute at the ~800 tasks/s one database takes
// via POST /): expired completed tasks (the expiry walk), failed tasks past FAILED_TTL and waiting
// tasks whose message was lost (wake rounds). One tick runs (the real scheduled handler, with D1
// calls counted and timed by bench/instrumented.ts); the table shows what it did per database and
// the D1 time it took. Then one database with BENCH_SWEEP_BACKLOG (default 1,000,000) expired
// tasks is swept tick after tick until empty. Local D1 (SQLite on tmpfs): production D1 adds a
// round trip per call, shown as calls per tick.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { bundle, COMPAT, migrate, round } from './lib.ts';
import { backlogStatements, type BacklogKind } from './backlog.ts';
import { EXPIRY_ROUND_COST, ROLLUP_ROUND_COST, SWEEP_QUERIES, WAKE_CHUNK, WAKE_ROUND_COST, WALK_CHUNK } from '../src/store/rounds.ts';

const ROWS = Number(process.env.BENCH_SWEEP_ROWS ?? 60_000);
const BACKLOG = Number(process.env.BENCH_SWEEP_BACKLOG ?? 1_000_000);
const D1_DIR = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/torque-sweep-') : undefined;
const TTL_S = 604_800;
const names = (n: number) => ['DB', ...Array.from({ length: n - 1 }, (_, i) => `DB_${i + 1}`)];
const script = await bundle('bench/instrumented.ts', 'torque');

async function withTorque<T>(n: number, label: string, run: (mf: Miniflare) => Promise<T>): Promise<T> {
  const mf = new Miniflare({
    ...COMPAT, modules: true, scriptPath: script, d1Databases: names(n), d1Persist: D1_DIR ? `${D1_DIR}/${label}-${n}` : false,
    // Producers only: what the sweeper re-sends stays in the queue.
    queueProducers: { TASKS: { queueName: 'torque-tasks' }, TASKS_BULK: { queueName: 'torque-bulk' } },
    durableObjects: { FLOW_GATES: { className: 'FlowGate', useSQLite: true } }, // SQLite storage, as wrangler.toml declares
    bindings: { AUTHENTICATE: 'false', DATABASES: names(n).join(','), COMPLETED_TTL: String(TTL_S) },
  });
  try {
    for (const name of names(n)) await migrate(mf, name);
    return await run(mf);
  } finally {
    await mf.dispose();
  }
}

const long = () => Date.now() - (TTL_S + 3600) * 1000 - 86_400_000;
async function seed(mf: Miniflare, binding: string, shard: number, kind: BacklogKind, rows: number) {
  const db = await mf.getD1Database(binding);
  for (let done = 0; done < rows; done += 100_000) {
    for (const { sql, values } of backlogStatements(`app-${kind}-${done}`, kind, Math.min(100_000, rows - done), long(), String(shard))) {
      await db.prepare(sql).bind(...values).run();
    }
  }
}

const counters = async (mf: Miniflare, reset = false) =>
  (await (await mf.dispatchFetch('http://torque/__bench/counters', { method: reset ? 'POST' : 'GET' })).json()) as Record<string, number>;

/** One scheduled tick: its wall time, and the D1 calls, statements and time it took. */
async function tick(mf: Miniflare) {
  await counters(mf, true);
  const t0 = performance.now();
  await (await mf.getWorker()).scheduled({ scheduledTime: new Date(), cron: '* * * * *' });
  const ms = performance.now() - t0;
  const c = await counters(mf);
  return { ms, d1Calls: c.d1Calls, d1Statements: c.d1Statements, d1Ms: c.d1Ms, d1MaxMs: c.d1MaxMs };
}

const left = async (mf: Miniflare, binding: string) => (await (await mf.getD1Database(binding)).prepare('SELECT count(*) AS n FROM tasks').first<number>('n'))!;
/** Per kind: rows still there, and (lost messages) rows not yet re-sent (their wake_at still past). */
async function state(mf: Miniflare, binding: string) {
  const db = await mf.getD1Database(binding);
  const n = (sql: string) => db.prepare(sql).bind(Date.now()).first<number>('n').then((x) => x!);
  return {
    expired: await n(`SELECT count(*) AS n FROM tasks WHERE app_id LIKE 'app-expired-%' AND ?1 > 0`),
    failed: await n(`SELECT count(*) AS n FROM tasks WHERE app_id LIKE 'app-failed-%' AND ?1 > 0`),
    unsent: await n(`SELECT count(*) AS n FROM tasks WHERE app_id LIKE 'app-lost-%' AND wake_at <= ?1`),
  };
}

console.log(`sweep: per database ${ROWS} expired, ${ROWS} failed past their TTL, ${ROWS} with a lost message; then a backlog of ${BACKLOG} in one database`);
const result: Record<string, unknown> = { rows_per_kind: ROWS };
// With 8 databases the same total work is spread over them: local D1 runs every database on this
// machine's 2 cores, so 8 x ROWS would measure the machine, not the sweeper (in production each
// database is its own server and the 1-database figures hold for each).
for (const n of [1, 8]) {
  const rows = Math.round(ROWS / n);
  result[`databases_${n}`] = await withTorque(n, 'tick', async (mf) => {
    for (const [i, name] of names(n).entries()) for (const kind of ['expired', 'failed', 'lost'] as const) await seed(mf, name, i, kind, rows);
    const t = await tick(mf);
    const after = await Promise.all(names(n).map((b) => state(mf, b)));
    const perDb = (k: keyof Awaited<ReturnType<typeof state>>) => Math.round(after.reduce((sum, a) => sum + (rows - a[k]), 0) / n);
    const row = {
      databases: n,
      tick_ms: Math.round(t.ms),
      // The expiry walk's deletions, and wake work: failed tasks deleted, lost messages re-sent.
      expired_deleted_per_database: perDb('expired'),
      wake_deleted_per_database: perDb('failed'),
      wake_resent_per_database: perDb('unsent'),
      d1_calls: t.d1Calls,
      d1_statements: t.d1Statements,
      // Summed over calls: with 8 databases local D1 runs them all on this machine's 2 cores, so
      // a call's time includes waiting for the others (in production each database is its own).
      d1_ms_per_database: Math.round(t.d1Ms / n),
      slowest_d1_call_ms: Math.round(t.d1MaxMs),
    };
    console.log(JSON.stringify(row));
    return row;
  });
}
// What the shared query budget allows each database per tick (statements per round from the code):
// a minute at ~800 tasks/s (POST /) is 48,000 of each kind; at ~2,000 tasks/s (/batch), 120,000.
const needed = (perKind: number) => ROLLUP_ROUND_COST + EXPIRY_ROUND_COST * Math.ceil(perKind / WALK_CHUNK) + WAKE_ROUND_COST * Math.ceil(perKind / WAKE_CHUNK);
result.budget = {
  queries_per_tick: SWEEP_QUERIES,
  queries_per_database_for_48000_each: needed(48_000),
  queries_per_database_for_120000_each: needed(120_000),
  databases_within_budget_at_48000: Math.floor(SWEEP_QUERIES / needed(48_000)),
  databases_within_budget_at_120000: Math.floor(SWEEP_QUERIES / needed(120_000)),
};
console.log(JSON.stringify(result.budget));
result.backlog = await withTorque(1, 'backlog', async (mf) => {
  await seed(mf, 'DB', 0, 'expired', BACKLOG);
  const ticks = [];
  while ((await left(mf, 'DB')) > 0 && ticks.length < 100) {
    const t = await tick(mf);
    ticks.push({ ms: Math.round(t.ms), d1_ms: Math.round(t.d1Ms), statements: t.d1Statements, slowest_d1_call_ms: Math.round(t.d1MaxMs), left: await left(mf, 'DB') });
    console.log(`backlog tick ${ticks.length}: ${JSON.stringify(ticks.at(-1))}`);
  }
  const row = { tasks: BACKLOG, ticks: ticks.length, total_ms: ticks.reduce((a, t) => a + t.ms, 0), deleted_per_tick: round(BACKLOG / ticks.length, 0) };
  console.log(JSON.stringify(row));
  return row;
});
if (D1_DIR) rmSync(D1_DIR, { recursive: true, force: true });
console.log(JSON.stringify(result));
