// `npm run bench -- capacity`: how Torque scales with D1 databases. Each database is modelled as
// what it is in production, one single-threaded server running one statement at a time, each
// taking BENCH_D1_SERVICE_MS (default 10 ms; production D1 is about 1 ms, but on this 2-core
// machine the model must make the databases the limit). Even so, with 8 databases the machine is
// the limit here: with no D1 model at all the same run tops out near 240 POST / tasks/s (see
// docs/scaling.md). Reports end-to-end tasks/s with 1, 2, 4 and 8 databases, for POST / and
// /batch, the ratio 8 / 1, queries and rows written per task, how many consumer invocations ran,
// and the per-database ceiling the model predicts from statements per task. BENCH_D1_LATENCY_MS
// (default "20,50": one table per value) adds a round trip to every D1 call (production D1 is a
// network hop away; local D1 answers at once), which does not hold the database.
// BENCH_CAPACITY_TASKS (default 2000) tasks per POST / run and database (after a warm-up round), 4
// times that per /batch run; BENCH_CONSUMERS (default 16) the most consumer invocations at once (how many run
// follows the backlog, bench/lanes.ts); BENCH_CAPACITY_COUNTS (default "1,2,4,8") and
// BENCH_CAPACITY_MODES (default "single,batch") narrow a run; BENCH_STATEMENTS=1 prints what each
// kind of statement cost per task; BENCH_QUEUE_PER_DATABASE=0 runs one TASKS queue for every
// database instead of a TASKS_k per database; BENCH_BATCH_TIMEOUT_S (default 1, as wrangler.toml)
// the consumers' max_batch_timeout. Prints a table, then one JSON line.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { bundle, COMPAT, deliver, migrate, round, startHook } from './lib.ts';
import { lanedQueues, laneQueue } from './lanes.ts';

const SERVICE_MS = Number(process.env.BENCH_D1_SERVICE_MS ?? 10);
const N = Number(process.env.BENCH_CAPACITY_TASKS ?? 2000);
const LATENCIES = (process.env.BENCH_D1_LATENCY_MS ?? '20,50').split(',').map(Number);
const COUNTS = (process.env.BENCH_CAPACITY_COUNTS ?? '1,2,4,8').split(',').map(Number);
const MODES = (process.env.BENCH_CAPACITY_MODES ?? 'single,batch').split(',') as ('single' | 'batch')[];
// A task queue per database (TASKS_k for DB_k, docs/scaling.md's optional step), as a deployment
// with several databases should run; BENCH_QUEUE_PER_DATABASE=0 measures the one TASKS queue.
const PER_DATABASE = process.env.BENCH_QUEUE_PER_DATABASE !== '0';
// The consumers' max_batch_timeout in seconds (wrangler.toml: 1); BENCH_BATCH_TIMEOUT_S tries another.
const BATCH_TIMEOUT_S = Number(process.env.BENCH_BATCH_TIMEOUT_S ?? 1);
// The most consumer invocations of a queue at once (lanes, see bench/lanes.ts: how many run
// follows the backlog, up to this); production allows 250.
const CONSUMERS = Number(process.env.BENCH_CONSUMERS ?? 16);
// Clients enqueueing at once: enough to keep every modelled database busy. A client waits a round
// trip and its turn for each insert, so a database a round trip of 50 ms away needs more than 8
// clients of its own to stay busy (64 clients kept 8 such databases at ~85%, not at capacity).
const clients = (n: number) => Number(process.env.BENCH_CONCURRENCY ?? Math.max(64, 16 * n));
const D1_DIR = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/torque-capacity-') : undefined;

const hook = await startHook();
const script = await bundle('bench/instrumented.ts', 'torque');
const lanes = Array.from({ length: CONSUMERS }, (_, k) => k);
const names = (n: number) => ['DB', ...Array.from({ length: n - 1 }, (_, i) => `DB_${i + 1}`)];

async function run(n: number, mode: 'single' | 'batch', latencyMs: number) {
  const queues = lanedQueues(n, PER_DATABASE);
  const mf = new Miniflare({
    ...COMPAT, modules: true, scriptPath: script, d1Databases: names(n), d1Persist: D1_DIR ? `${D1_DIR}/${mode}-${n}-${latencyMs}` : false,
    // Each queue as CONSUMERS lanes; bench/lanes.ts decides which lane a message goes to.
    queueProducers: Object.fromEntries(lanes.flatMap((k) => queues.map(({ binding, queue }) => [k ? `${binding}_LANE_${k}` : binding, { queueName: laneQueue(queue, k) }]))),
    durableObjects: { FLOW_GATES: { className: 'FlowGate', useSQLite: true } }, // SQLite storage, as wrangler.toml declares
    // As wrangler.toml: torque-tasks batches of up to 100 within 1 s, torque-bulk one message a batch.
    queueConsumers: Object.fromEntries(lanes.flatMap((k) => queues.map(({ queue, batchSize }) => [laneQueue(queue, k), { maxBatchSize: batchSize, maxBatchTimeout: BATCH_TIMEOUT_S, maxRetries: 10 }]))),
    bindings: { AUTHENTICATE: 'false', BLOCK_PRIVATE_ADDRESSES: 'false', DATABASES: names(n).join(','), BENCH_D1_SERVICE_MS: String(SERVICE_MS), BENCH_D1_LATENCY_MS: String(latencyMs), BENCH_QUEUES: JSON.stringify(queues) },
  });
  try {
    for (const name of names(n)) await migrate(mf, name);
    // A /batch lands in one database: enough batches for every database to get its share. Tasks
    // scale with the databases, so that every run lasts about as long: a run's end (its last
    // batches wait up to max_batch_timeout whatever the rate) would otherwise weigh 8 times more in
    // a run of 8 databases than in one of 1.
    const tasks = (mode === 'batch' ? 4 * N : N) * n;
    const CONC = clients(n);
    // Steady state: a warm-up round (each client's first request, the isolate's first insert per
    // app and database, compiled code) goes before the counters and the clock start.
    await deliver(mf, hook, mode, mode === 'batch' ? 400 : CONC, CONC);
    await mf.dispatchFetch('http://torque/__bench/counters', { method: 'POST' });
    const { end_to_end_tasks_per_s, enqueue_per_s, workerd_cpu_ms_per_task, client_and_hook_cpu_ms_per_task } = await deliver(mf, hook, mode, tasks, CONC);
    const c = (await (await mf.dispatchFetch('http://torque/__bench/counters')).json()) as { d1Statements: number; rowsWritten: number; lanesUsed: Record<string, number> };
    if (process.env.BENCH_STATEMENTS) {
      const by = (await (await mf.dispatchFetch('http://torque/__bench/statements')).json()) as Record<string, { n: number }>;
      for (const [sql, st] of Object.entries(by).sort((a, b) => b[1].n - a[1].n)) console.log(`  ${(st.n / tasks).toFixed(3)} per task  ${sql}`);
    }
    const rows_written_per_task = round(c.rowsWritten / tasks, 3);
    // How far concurrency grew (lanes that got messages), summed over the queues this mode uses.
    const used = queues.filter((q) => (q.binding === 'TASKS_BULK') === (mode === 'batch'));
    const consumers = used.reduce((sum, q) => sum + (c.lanesUsed[q.binding] ?? 0), 0) || 1;
    return { databases: n, tasks, clients: CONC, enqueue_per_s, end_to_end_tasks_per_s, d1_queries_per_task: round(c.d1Statements / tasks, 3), rows_written_per_task, consumers, workerd_cpu_ms_per_task, client_and_hook_cpu_ms_per_task };
  } finally {
    await mf.dispose();
  }
}

console.log(`capacity: ${N} tasks per run and database, each D1 database one statement at a time, ${SERVICE_MS} ms each, round trips of ${LATENCIES.join(' / ')} ms, ${PER_DATABASE ? 'a task queue per database' : 'one task queue'}, up to ${CONSUMERS} consumer invocations at once per queue (as the backlog needs), ${process.env.BENCH_CONCURRENCY ?? '64, or 16 per database if more,'} clients`);
const result: Record<string, unknown> = { tasks_per_database: { single: N, batch: 4 * N }, d1_service_ms: SERVICE_MS, consumers: CONSUMERS, queue_per_database: PER_DATABASE };
for (const latencyMs of LATENCIES) {
  const at: Record<string, unknown> = {};
  for (const mode of MODES) {
    const rows = [];
    for (const n of COUNTS) {
      rows.push({ d1_latency_ms: latencyMs, ...(await run(n, mode, latencyMs)) });
      console.log(`${mode === 'single' ? 'POST /    ' : 'POST /batch'} ${JSON.stringify(rows.at(-1))}`);
    }
    const one = rows[0];
    at[mode === 'single' ? 'torque_single' : 'torque_batch'] = {
      runs: rows,
      [`scaling_${COUNTS.at(-1)}_vs_${COUNTS[0]}`]: round(rows.at(-1)!.end_to_end_tasks_per_s / one.end_to_end_tasks_per_s),
      // What the model allows one database: statements it can run per second over statements per task.
      modelled_tasks_per_s_per_database: round(1000 / SERVICE_MS / one.d1_queries_per_task, 1),
    };
  }
  result[`latency_${latencyMs}_ms`] = at;
}
hook.close();
if (D1_DIR) rmSync(D1_DIR, { recursive: true, force: true });
console.log(JSON.stringify(result));
