// `npm run bench`: Torque's throughput, latency and cost against the raw platform, all on workerd
// through Miniflare's API (no wrangler dev proxy), with a real hook server on loopback.
// BENCH_TASKS (default 5000), BENCH_CONCURRENCY (default 32) and BENCH_ROUNDS (default 3) tune it. Prints a table, then
// one JSON line with every figure. `npm run bench -- capacity` runs the scale-out model instead.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { Miniflare } from 'miniflare';
import { bundle, COMPAT, deliver, load, migrate, round, startHook, TOPIC_ENDPOINTS, type Hook, type Mode } from './lib.ts';

// `npm run bench -- capacity`: the scale-out model (bench/capacity.ts) instead.
if (process.argv[2] === 'capacity') {
  await import('./capacity.ts');
  process.exit(0);
}
// `npm run bench -- sweep`: what one sweeper tick does per database (bench/sweep.ts).
if (process.argv[2] === 'sweep') {
  await import('./sweep.ts');
  process.exit(0);
}

const N = Number(process.env.BENCH_TASKS ?? 5000);
// Two cores shared by the runtime, the client and the hook make single runs noisy: the raw
// baseline and Torque's single-enqueue run alternate this many times and medians are reported.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONC = Number(process.env.BENCH_CONCURRENCY ?? 32);
// Local D1 is SQLite on this machine's disk, where every commit waits for fsync: that measures
// the disk, not Torque (production D1 is a remote, replicated service). By default the bench
// keeps D1 on tmpfs; BENCH_D1_DIR=<dir on disk> measures with the disk in the loop.
const D1_DIR = process.env.BENCH_D1_DIR ?? (existsSync('/dev/shm') ? mkdtempSync('/dev/shm/torque-bench-') : undefined);
const RAW_D1_SCHEMA = 'CREATE TABLE jobs (id TEXT PRIMARY KEY, url TEXT NOT NULL, body TEXT, content_type TEXT) WITHOUT ROWID';
const PRICES = { rowWritten: 1 / 1e6, rowRead: 0.001 / 1e6, queueOp: 0.4 / 1e6, request: 0.3 / 1e6, doRequest: 0.15 / 1e6 };

async function counters(mf: Miniflare, reset = false) {
  return (await (await mf.dispatchFetch('http://torque/__bench/counters', { method: reset ? 'POST' : 'GET' })).json()) as Record<string, number>;
}

let runs = 0; // each Torque run gets fresh local state

async function torque(hook: Hook, script: string, mode: Mode) {
  const mf = new Miniflare({
    ...COMPAT, modules: true, scriptPath: script, d1Databases: ['DB'], d1Persist: D1_DIR ? `${D1_DIR}/${mode}-${++runs}` : false,
    queueProducers: { TASKS: { queueName: 'torque-tasks' }, TASKS_BULK: { queueName: 'torque-bulk' } },
    queueConsumers: { 'torque-tasks': { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 10 }, 'torque-bulk': { maxBatchSize: 1, maxRetries: 10 } },
    durableObjects: { FLOW_GATES: { className: 'FlowGate', useSQLite: true } }, // SQLite storage, as wrangler.toml declares
    bindings: { AUTHENTICATE: 'false', BLOCK_PRIVATE_ADDRESSES: 'false' }, // the bench hook is on loopback
  });
  try {
    await migrate(mf);
    const db = await mf.getD1Database('DB');
    // The database's size (D1's own meta) before, and with every task completed and kept.
    const size = async () => (await db.prepare('SELECT 1').run()).meta.size_after ?? NaN;
    const empty = await size();
    // Keyed: every task names a flow with limits it never reaches, so each asks its flow's Durable
    // Object and none is held back: the cost flow control adds to a task that goes at once.
    if (mode === 'keyed') {
      const res = await mf.dispatchFetch('http://torque/flows/bench', { method: 'PUT', body: JSON.stringify({ rate: 100_000 }), headers: { 'content-type': 'application/json' } });
      if (res.status !== 200) throw new Error(`PUT /flows/bench answered ${res.status}: ${await res.text()}`);
    }
    if (mode === 'topic') {
      const endpoints = Array.from({ length: TOPIC_ENDPOINTS }, (_, i) => `${hook.url}?endpoint=${i}`);
      await mf.dispatchFetch('http://torque/topics/bench', { method: 'PUT', body: JSON.stringify({ endpoints }), headers: { 'content-type': 'application/json' } });
    }
    // Scheduled: N schedules (made directly: making them is not a run's cost), all due now.
    if (mode === 'scheduled') {
      await db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
        INSERT INTO schedules (app_id, id, cron, timezone, url, method, body, content_type, timeout, max_retries, paused, next_run_at, created_at, updated_at)
        SELECT 'default', printf('S%08d', i), '0 0 1 1 *', 'UTC', ?1, 'POST', 'n=1', 'application/x-www-form-urlencoded', 60, 3, 0, ?2, ?2, ?2 FROM n`).bind(hook.url, Date.now() - 1, N).run();
    }
    await counters(mf, true);
    const speed = await deliver(mf, hook, mode, N, CONC);
    // Let the consumer finish recording, then count the eventual deletion too: one sweep as if
    // COMPLETED_TTL had passed.
    await new Promise((r) => setTimeout(r, 1500));
    const storedBytes = round((await size()) - empty) / N;
    const worker = await mf.getWorker();
    // (ids carry their creation time: the expiry walk takes a task COMPLETED_TTL + SWEEP_WALK_LAG after it.)
    await worker.scheduled({ scheduledTime: new Date(Date.now() + 604_800_000 + 120_000 + 60_000), cron: '* * * * *' });
    const c = await counters(mf);
    // BENCH_STATEMENTS=1: what each kind of statement cost over the run, per task.
    if (process.env.BENCH_STATEMENTS) {
      const by = (await (await mf.dispatchFetch('http://torque/__bench/statements')).json()) as Record<string, { n: number; read: number; written: number }>;
      for (const [sql, s] of Object.entries(by).sort((a, b) => b[1].read - a[1].read)) {
        console.log(`  ${mode}: ${(s.n / N).toFixed(3)} statements, ${(s.read / N).toFixed(2)} rows read, ${(s.written / N).toFixed(3)} written per task  ${sql}`);
      }
    }
    const left = (await db.prepare('SELECT count(*) AS n FROM tasks').first<{ n: number }>())!.n;
    if (left !== 0) throw new Error(`${left} tasks were not deleted by the sweeper`);
    const per = (k: string) => round(c[k] / N, 3);
    const queueOps = 3 * c.messagesSent; // write + read + delete per message
    const cost = {
      d1_queries: per('d1Statements'), d1_round_trips: per('d1Calls'), rows_read: per('rowsRead'), rows_written: per('rowsWritten'),
      queue_operations: round(queueOps / N, 3), worker_invocations: per('invocations'), durable_object_requests: per('gateRequests'),
      // What a completed task occupies until COMPLETED_TTL (its row, index entries, page slack).
      stored_bytes_completed: Math.round(storedBytes),
    };
    const usdPerMillion = round(1e6 * (cost.rows_written * PRICES.rowWritten + cost.rows_read * PRICES.rowRead +
      cost.queue_operations * PRICES.queueOp + cost.worker_invocations * PRICES.request + cost.durable_object_requests * PRICES.doRequest), 2);
    return { ...speed, per_task: cost, usd_per_million_tasks: usdPerMillion };
  } finally {
    await mf.dispose();
  }
}

async function hello(script: string) {
  const mf = new Miniflare({ ...COMPAT, modules: true, scriptPath: script });
  try {
    const ms = await load(N, CONC, async () => { await (await mf.dispatchFetch('http://hello/')).text(); });
    return { requests_per_s: round(N / (ms / 1000), 1) };
  } finally {
    await mf.dispose();
  }
}

async function raw(hook: Hook, script: string, withD1 = false) {
  const mf = new Miniflare({
    ...COMPAT, modules: true, scriptPath: script, ...(withD1 ? { d1Databases: ['DB'], d1Persist: D1_DIR ? `${D1_DIR}/raw-d1-${++runs}` : false } : {}),
    queueProducers: { Q: { queueName: 'raw' } }, queueConsumers: { raw: { maxBatchSize: 100, maxBatchTimeout: 1 } },
  });
  try {
    if (withD1) await (await mf.getD1Database('DB')).exec(RAW_D1_SCHEMA);
    return await deliver(mf, hook, 'raw', N, CONC);
  } finally {
    await mf.dispose();
  }
}

const hook = await startHook();
const [torqueJs, helloJs, rawJs, rawD1Js] = await Promise.all([
  bundle('bench/instrumented.ts', 'torque'), bundle('bench/baselines/hello.ts', 'hello'), bundle('bench/baselines/raw-queue.ts', 'raw'),
  bundle('bench/baselines/raw-d1.ts', 'raw-d1'),
]);
console.log(`bench: ${N} tasks, concurrency ${CONC}, ${ROUNDS} rounds, ${os.cpus().length} × ${os.cpus()[0]?.model}, node ${process.version}`);
const result: Record<string, unknown> = {
  tasks: N, concurrency: CONC, rounds: ROUNDS, machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`, d1_storage: D1_DIR ?? 'miniflare default',
};
result.hello_world = await hello(helloJs);
console.log('hello world     ', JSON.stringify(result.hello_world));
const raws: Awaited<ReturnType<typeof raw>>[] = [];
const rawD1s: Awaited<ReturnType<typeof raw>>[] = [];
const singles: Awaited<ReturnType<typeof torque>>[] = [];
for (let r = 1; r <= ROUNDS; r++) {
  raws.push(await raw(hook, rawJs));
  console.log(`raw queues   #${r}`, JSON.stringify(raws.at(-1)));
  rawD1s.push(await raw(hook, rawD1Js, true));
  console.log(`raw + D1 write #${r}`, JSON.stringify(rawD1s.at(-1)));
  singles.push(await torque(hook, torqueJs, 'single'));
  console.log(`torque POST / #${r}`, JSON.stringify(singles.at(-1)));
}
/** The run with the median end-to-end rate, so its figures belong together. */
const median = <T extends { end_to_end_tasks_per_s: number }>(runs: T[]) =>
  [...runs].sort((a, b) => a.end_to_end_tasks_per_s - b.end_to_end_tasks_per_s)[Math.floor(runs.length / 2)];
const rawQ = median(raws);
const single = median(singles);
const rawD1 = median(rawD1s);
result.raw_queues = { ...rawQ, rounds: raws.map((r) => r.end_to_end_tasks_per_s) };
result.raw_queues_with_d1_write = { ...rawD1, rounds: rawD1s.map((r) => r.end_to_end_tasks_per_s) };
result.torque_single = { ...single, rounds: singles.map((r) => r.end_to_end_tasks_per_s) };
console.log('raw queues    (median)', JSON.stringify(result.raw_queues));
console.log('torque POST / (median)', JSON.stringify(result.torque_single));
// `npm run bench -- qstash`: POST / and the QStash protocol's publish (/v2), one run each, for their cost per task.
if (process.argv[2] === 'qstash') {
  const v2 = await torque(hook, torqueJs, 'qstash');
  console.log('torque /v2/publish', JSON.stringify(v2));
  console.log(JSON.stringify({ single: single.per_task, qstash: v2.per_task }));
  hook.close();
  process.exit(0);
}
// BENCH_QUICK=1: the raw baseline and POST / only (for trying a change; the full run is the record).
if (process.env.BENCH_QUICK) {
  console.log(JSON.stringify({ ratio: round(single.end_to_end_tasks_per_s / rawQ.end_to_end_tasks_per_s), raw_d1_ratio: round(rawD1.end_to_end_tasks_per_s / rawQ.end_to_end_tasks_per_s), raw: result.raw_queues, single: result.torque_single }));
  hook.close();
  process.exit(0);
}
const batch = await torque(hook, torqueJs, 'batch');
result.torque_batch = batch;
console.log('torque /batch   ', JSON.stringify(batch));
const keyed = await torque(hook, torqueJs, 'keyed');
result.torque_keyed = keyed;
console.log('torque POST / with a flow key', JSON.stringify(keyed));
const topic = await torque(hook, torqueJs, 'topic');
result.torque_topic = topic;
console.log(`torque topic of ${TOPIC_ENDPOINTS}`, JSON.stringify(topic));
const scheduled = await torque(hook, torqueJs, 'scheduled');
result.torque_scheduled = scheduled;
console.log('torque scheduled', JSON.stringify(scheduled));
const qstash = await torque(hook, torqueJs, 'qstash');
result.torque_qstash_publish = qstash;
console.log('torque /v2/publish (QStash)', JSON.stringify(qstash));
const helloRate = (result.hello_world as { requests_per_s: number }).requests_per_s;
result.ratios = {
  enqueue_vs_hello_world: round(single.enqueue_per_s / helloRate),
  enqueue_vs_raw_queues: round(single.enqueue_per_s / rawQ.enqueue_per_s),
  end_to_end_vs_raw_queues: round(single.end_to_end_tasks_per_s / rawQ.end_to_end_tasks_per_s),
  // The floor of storing before answering: raw Queues plus one D1 insert, against raw Queues.
  raw_with_d1_write_vs_raw_queues: round(rawD1.end_to_end_tasks_per_s / rawQ.end_to_end_tasks_per_s),
  end_to_end_vs_raw_with_d1_write: round(single.end_to_end_tasks_per_s / rawD1.end_to_end_tasks_per_s),
  batch_end_to_end_vs_raw_queues: round(batch.end_to_end_tasks_per_s / rawQ.end_to_end_tasks_per_s),
};
result.goals = {
  end_to_end_at_least_0_8x_raw: single.end_to_end_tasks_per_s >= 0.8 * rawQ.end_to_end_tasks_per_s,
  d1_queries_single_at_most_1_1: single.per_task.d1_queries <= 1.1,
  d1_queries_batch_at_most_0_1: batch.per_task.d1_queries <= 0.1,
  rows_written_single_at_most_5: single.per_task.rows_written <= 5,
  rows_written_batch_at_most_5: batch.per_task.rows_written <= 5,
  batch_queue_operations_at_most_0_5: batch.per_task.queue_operations <= 0.5,
};
console.log('ratios          ', JSON.stringify(result.ratios));
console.log('goals           ', JSON.stringify(result.goals));
hook.close();
if (D1_DIR && !process.env.BENCH_D1_DIR) rmSync(D1_DIR, { recursive: true, force: true });
console.log(JSON.stringify(result));
