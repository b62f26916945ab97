// `npm run profile`: where a `POST /` spends its CPU on workerd. Runs PROFILE_REQUESTS (default
// 3000) single enqueues through Miniflare's API with nothing consuming the queue, samples the
// Torque isolate with the V8 profiler over the DevTools inspector, and maps every sample back to
// its source (the bundle's source map): Hono, zod, drizzle, Torque's own folders, the runtime's
// native calls. It also reads the whole workerd process's CPU time from /proc, so what the
// isolate spends can be set against what the runtime, local D1 (SQLite) and the queue cost.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { createServer } from 'node:net';
import { Miniflare } from 'miniflare';
import { bundle, COMPAT, load, migrate, startHook, workerdCpu } from './lib.ts';

const N = Number(process.env.PROFILE_REQUESTS ?? 3000);
// `npm run profile -- raw`: the same for the raw-Queues baseline (no D1), to see the floor.
const RAW = process.argv[2] === 'raw';
// PROFILE_CONSUME=1: the queue is consumed too (the hooks called), so the profile covers a task's whole way.
const CONSUME = !!process.env.PROFILE_CONSUME;
const CONC = 32;
const D1_DIR = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/torque-profile-') : undefined;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** A minimal DevTools protocol client over the inspector's WebSocket. */
async function devtools(url: string) {
  const ws = new WebSocket(url);
  await new Promise((r, j) => (ws.addEventListener('open', r), ws.addEventListener('error', j)));
  let id = 0;
  const waiting = new Map<number, (v: any) => void>();
  ws.addEventListener('message', (e) => {
    const msg = JSON.parse(String(e.data));
    waiting.get(msg.id)?.(msg.result);
  });
  return {
    send: (method: string, params: object = {}) => new Promise<any>((r) => (waiting.set(++id, r), ws.send(JSON.stringify({ id, method, params })))),
    close: () => ws.close(),
  };
}

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; hitCount: number };

/** Which part of the code a frame belongs to, from its original source path. */
function part(url: string, source: string | undefined, fn: string): string {
  if (url.includes('d1-api')) return '(runtime) D1 client';
  if (!source) return fn.startsWith('(') ? fn : `(runtime) ${fn || 'anonymous'}`;
  const m = source.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  const t = source.match(/src\/([^/]+)(?:\/([^/]+))?/);
  return t ? `torque src/${t[1]}${t[2] && !t[2].includes('.') ? `/${t[2]}` : ''}` : source;
}

const hook = await startHook();
const script = await bundle(RAW ? 'bench/baselines/raw-queue.ts' : 'src/index.ts', RAW ? 'profile-raw' : 'profile', true);
const map = new SourceMap(JSON.parse(readFileSync(`${script}.map`, 'utf8')));
const inspectorPort = await freePort();
const mf = new Miniflare({
  ...COMPAT, modules: true, scriptPath: script, inspectorPort, d1Databases: ['DB'], d1Persist: D1_DIR ?? false,
  // Nothing consumes (unless PROFILE_CONSUME): only the enqueue path runs.
  queueProducers: RAW ? { Q: { queueName: 'profile-raw' } } : { TASKS: { queueName: 'profile-tasks' }, TASKS_BULK: { queueName: 'profile-bulk' } },
  queueConsumers: !CONSUME ? undefined : RAW ? { 'profile-raw': { maxBatchSize: 100, maxBatchTimeout: 1 } } : { 'profile-tasks': { maxBatchSize: 100, maxBatchTimeout: 1 }, 'profile-bulk': { maxBatchSize: 1 } },
  bindings: { AUTHENTICATE: 'false', BLOCK_PRIVATE_ADDRESSES: 'false' },
});
try {
  if (!RAW) await migrate(mf);
  const post = async (i: number) => {
    const body = `n=${i}`; // with its length, as clients send it (dispatchFetch would stream it chunked)
    const res = await mf.dispatchFetch(`http://torque/?url=${encodeURIComponent(hook.url)}`, { method: 'POST', body, headers: { 'content-length': String(body.length) } });
    if (res.status !== 201) throw new Error(`enqueue answered ${res.status}`);
    await res.arrayBuffer();
  };
  await load(500, CONC, post); // warm up: JIT, SQLite pages, connections
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as { title: string; webSocketDebuggerUrl: string }[];
  const target = targets.find((t) => !t.title.startsWith('core:')) ?? targets[0];
  const dt = await devtools(target.webSocketDebuggerUrl);
  await dt.send('Profiler.enable');
  await dt.send('Profiler.setSamplingInterval', { interval: 100 });
  const cpu0 = workerdCpu();
  await dt.send('Profiler.start');
  hook.reset();
  const ms = await load(N, CONC, post);
  if (CONSUME) await hook.until(N);
  const { profile } = (await dt.send('Profiler.stop')) as { profile: { nodes: Node[]; startTime: number; endTime: number; samples: number[] } };
  const cpu1 = workerdCpu();
  dt.close();

  const usPerSample = (profile.endTime - profile.startTime) / profile.samples.length;
  const byPart = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const node of profile.nodes) {
    if (!node.hitCount) continue;
    const { url, lineNumber, columnNumber, functionName } = node.callFrame;
    const entry = url.endsWith('.mjs') ? map.findEntry(lineNumber, columnNumber) : undefined;
    const key = part(url, entry && 'originalSource' in entry ? String(entry.originalSource) : undefined, functionName);
    byPart.set(key, (byPart.get(key) ?? 0) + node.hitCount * usPerSample);
    const src = entry && 'originalSource' in entry ? `${String(entry.originalSource).replace(/.*node_modules\//, '').replace(/.*\/src\//, 'src/')}:${(entry as any).originalLine + 1}` : url.split('/').pop();
    const fnKey = `${functionName || 'anonymous'} (${src})`;
    byFn.set(fnKey, (byFn.get(fnKey) ?? 0) + node.hitCount * usPerSample);
  }
  const idle = byPart.get('(idle)') ?? 0;
  const busyUs = [...byPart].filter(([k]) => k !== '(idle)').reduce((s, [, us]) => s + us, 0);
  const perReq = (us: number) => Math.round((us / N) * 10) / 10;
  console.log(`${RAW ? 'raw Queues baseline' : 'Torque'}: POST / × ${N} at concurrency ${CONC}: ${Math.round(N / (ms / 1000))} req/s`);
  console.log(`workerd process CPU: ${Math.round(((cpu1 - cpu0) * 1e6) / N)} µs per request (runtime, Torque's isolate, local D1's SQLite, queue)`);
  console.log(`Torque isolate, JavaScript and the calls it makes: ${perReq(busyUs)} µs per request (idle ${perReq(idle)})`);
  for (const [k, us] of [...byPart].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1])) {
    if (us / busyUs < 0.01) continue;
    console.log(`  ${String(perReq(us)).padStart(6)} µs  ${String(Math.round((100 * us) / busyUs)).padStart(3)} %  ${k}`);
  }
  // The same, in the few groups the README talks about.
  const group = (k: string) =>
    k.startsWith('torque ') ? "Torque's own code" : /^(hono|@hono|zod)/.test(k) ? 'Hono and zod (routing, validation, responses)'
    : k === '(runtime) D1 client' || k === '(runtime) fetch' ? 'D1 client and subrequests' : k === '(runtime) sendBatch' ? 'queue send'
    : k === '(garbage collector)' ? 'garbage collection' : k === '(program)' ? 'V8 and runtime bookkeeping' : 'Request, Response, URL, Headers, bodies';
  const groups = new Map<string, number>();
  for (const [k, us] of byPart) if (k !== '(idle)') groups.set(group(k), (groups.get(group(k)) ?? 0) + us);
  console.log('grouped:');
  for (const [k, us] of [...groups].sort((a, b) => b[1] - a[1])) console.log(`  ${String(perReq(us)).padStart(6)} µs  ${String(Math.round((100 * us) / busyUs)).padStart(3)} %  ${k}`);
  if (process.env.PROFILE_FUNCTIONS) {
    console.log('by function:');
    for (const [k, us] of [...byFn].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_FUNCTIONS))) {
      console.log(`  ${String(perReq(us)).padStart(6)} µs  ${k}`);
    }
  }
} finally {
  await mf.dispose();
  hook.close();
  if (D1_DIR) rmSync(D1_DIR, { recursive: true, force: true });
}
