// What the bench, the profile and the soak share: bundling a worker, a loopback hook that notes
// arrivals, migrating a Miniflare D1, and a load loop.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Miniflare } from 'miniflare';

const OUT = 'bench/.build';
// Miniflare 4's workerd predates the app's compatibility date; behaviour used here is the same.
export const COMPAT = { compatibilityDate: '2026-07-01', compatibilityFlags: ['nodejs_compat'] };

export async function bundle(entry: string, name: string, sourcemap = false): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const outfile = `${OUT}/${name}.mjs`;
  await build({
    entryPoints: [entry], bundle: true, format: 'esm', platform: 'neutral', outfile, logLevel: 'warning',
    mainFields: ['module', 'main'], conditions: ['workerd', 'worker', 'browser'], jsx: 'automatic', jsxImportSource: 'hono/jsx',
    external: ['cloudflare:*', 'node:*'], sourcemap,
  });
  return outfile;
}

/** A hook that answers 200 at once and notes when each task id arrived. */
export async function startHook() {
  const arrived = new Map<string, number>();
  let waiting: { n: number; resolve: () => void } | undefined;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = req.headers['torque-task-id'] as string;
      if (!arrived.has(id)) arrived.set(id, performance.now());
      res.end('ok');
      if (waiting && arrived.size >= waiting.n) waiting.resolve();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const until = (n: number, ms = 600_000) =>
    new Promise<void>((resolve, reject) => {
      if (arrived.size >= n) return resolve();
      const t = setTimeout(() => reject(new Error(`only ${arrived.size}/${n} tasks reached the hook`)), ms);
      waiting = { n, resolve: () => (clearTimeout(t), resolve()) };
    });
  return { url, arrived, until, reset: () => arrived.clear(), close: () => (server.closeAllConnections(), server.close()) };
}

/** Runs `count` jobs with `conc` in flight; returns elapsed ms. */
export async function load(count: number, conc: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => { while (next < count) await job(next++); }));
  return performance.now() - start;
}

export async function migrate(mf: Miniflare, binding = 'DB') {
  const db = await mf.getD1Database(binding);
  for (const file of readdirSync('migrations').filter((f) => f.endsWith('.sql')).sort()) {
    for (const stmt of readFileSync(`migrations/${file}`, 'utf8').split('--> statement-breakpoint')) {
      if (stmt.trim()) await db.prepare(stmt).run();
    }
  }
}


const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]) : null;
};
export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

// Clients (curl, requests, browsers) send a Content-Length with a body they hold; Miniflare's
// dispatchFetch would stream it chunked unless told, which is a different (rarer) request.
const sized = (body: string) => ({ 'content-length': String(Buffer.byteLength(body)) });

export type Hook = Awaited<ReturnType<typeof startHook>>;

const BATCH = 100;

/** CPU seconds (user + system) of every workerd process this one started. */
export function workerdCpu(): number {
  const pids = execFileSync('pgrep', ['-P', String(process.pid), '-f', 'workerd'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  const all = pids.flatMap((p) => [p, ...execFileSync('sh', ['-c', `pgrep -P ${p} || true`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean)]);
  return all.reduce((sum, pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return sum + (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
  }, 0);
}

/** Enqueues N tasks (one per request, or BATCH per request) and waits until the hook saw them all. */
export type Mode = 'single' | 'batch' | 'raw' | 'keyed' | 'topic' | 'scheduled' | 'qstash';
export const TOPIC_ENDPOINTS = 10;

/** Enqueues N tasks the way `mode` says and waits until the hook saw them all. */
export async function deliver(mf: Miniflare, hook: Hook, mode: Mode, N: number, CONC: number) {
  hook.reset();
  const sent = new Map<string, number>();
  const perRequest = mode === 'batch' ? BATCH : mode === 'topic' ? TOPIC_ENDPOINTS : 1;
  const requests = mode === 'scheduled' ? 1 : Math.ceil(N / perRequest);
  await mf.ready; // workerd running, so its CPU can be read
  const first = performance.now();
  const cpu0 = workerdCpu();
  const node0 = process.cpuUsage();
  const ms = await load(requests, perRequest > 1 ? 4 : CONC, async (i) => {
    const t0 = performance.now();
    let res: Awaited<ReturnType<Miniflare['dispatchFetch']>>;
    if (mode === 'scheduled') {
      // N schedules were made due: one tick of the cron handler turns them into tasks.
      await (await mf.getWorker()).scheduled({ scheduledTime: new Date(), cron: '* * * * *' });
      return;
    }
    if (mode === 'topic') {
      const body = `n=${i}`;
      res = await mf.dispatchFetch('http://torque/topics/bench', { method: 'POST', body, headers: sized(body) });
      for (const t of ((await res.json()) as { tasks: { id: string }[] }).tasks) sent.set(t.id, t0);
    } else if (mode === 'batch') {
      const items = Array.from({ length: Math.min(BATCH, N - i * BATCH) }, (_, k) => ({ url: hook.url, body: `n=${i * BATCH + k}` }));
      const body = JSON.stringify(items);
      res = await mf.dispatchFetch('http://torque/batch', { method: 'POST', body, headers: { 'content-type': 'application/json', ...sized(body) } });
      for (const t of ((await res.json()) as { tasks: { id: string }[] }).tasks) sent.set(t.id, t0);
    } else if (mode === 'qstash') {
      // The QStash protocol's publish (/v2), as the official SDK sends it.
      const body = `n=${i}`;
      res = await mf.dispatchFetch(`http://torque/v2/publish/${hook.url}`, { method: 'POST', body, headers: { 'upstash-method': 'POST', ...sized(body) } });
      sent.set(((await res.json()) as { messageId: string }).messageId, t0);
    } else {
      const body = `n=${i}`;
      const flow = mode === 'keyed' ? '&flow_key=bench' : '';
      res = await mf.dispatchFetch(`http://torque/?url=${encodeURIComponent(hook.url)}${flow}`, { method: 'POST', body, headers: sized(body) });
      sent.set(((await res.json()) as { id: string }).id, t0);
    }
    if (res.status !== 201) throw new Error(`enqueue answered ${res.status}`);
  });
  if (mode === 'scheduled') for (const id of hook.arrived.keys()) sent.set(id, first);
  await hook.until(N);
  const last = Math.max(...hook.arrived.values());
  const cpu = workerdCpu() - cpu0;
  const node = process.cpuUsage(node0);
  const latencies = [...sent].map(([id, t0]) => (hook.arrived.get(id) ?? NaN) - t0).filter((x) => !Number.isNaN(x));
  return {
    enqueue_per_s: round((perRequest > 1 || mode === 'scheduled' ? N : requests) / (ms / 1000), 1),
    end_to_end_tasks_per_s: round(N / ((last - first) / 1000), 1),
    latency_ms: { p50: pct(latencies, 50), p99: pct(latencies, 99) },
    // The runtime's CPU (every isolate, local D1's SQLite, the queue) per task, enqueue to delivery.
    workerd_cpu_ms_per_task: round((cpu * 1000) / N, 3),
    // This process's: the load client and the hook server, which share the machine's 2 cores.
    client_and_hook_cpu_ms_per_task: round((node.user + node.system) / 1000 / N, 3),
  };
}

