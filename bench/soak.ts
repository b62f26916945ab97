// `npm run soak`: thousands of tasks through `wrangler dev` (via npm run dev) to a hostile hook,
// with the dev server SIGKILLed and restarted mid-run. Reports accepted, delivered, lost (must be
// 0), duplicate deliveries and time to drain; exits non-zero if anything was lost.
// SOAK_TASKS (default 2000), SOAK_KILLS (default 2), SOAK_DRAIN_SECONDS (default 900).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DevServer, waitFor } from '../test/e2e/dev-server.ts';

const N = Number(process.env.SOAK_TASKS ?? 2000);
const KILLS = Number(process.env.SOAK_KILLS ?? 2);
const DRAIN_MS = Number(process.env.SOAK_DRAIN_SECONDS ?? 900) * 1000;

// What the hostile hook does, by weight. "ok" variants finish a 2xx response; the rest fail.
const BEHAVIOURS: [string, number][] = [
  ['ok', 50], ['500', 6], ['503', 4], ['429', 4], ['reset', 8], ['hang', 6], ['slow', 6], ['redirect', 6], ['big', 5], ['hangup', 5],
];
const total = BEHAVIOURS.reduce((s, [, w]) => s + w, 0);
const pick = () => {
  let r = Math.random() * total;
  for (const [b, w] of BEHAVIOURS) if ((r -= w) < 0) return b;
  return 'ok';
};

const calls = new Map<string, number>();
const delivered = new Map<string, number>(); // task id -> 2xx responses fully sent

function hostile(req: IncomingMessage, res: ServerResponse) {
  const id = String(req.headers['torque-task-id'] ?? '?');
  calls.set(id, (calls.get(id) ?? 0) + 1);
  const ok = () => res.on('finish', () => delivered.set(id, (delivered.get(id) ?? 0) + 1));
  const behaviour = req.url?.startsWith('/final') ? 'ok' : pick();
  switch (behaviour) {
    case 'ok': ok(); res.end('ok'); return;
    case '500': res.statusCode = 500; res.end('boom'); return;
    case '503': res.statusCode = 503; res.setHeader('retry-after', '1'); res.end('busy'); return;
    case '429': res.statusCode = 429; res.setHeader('retry-after', '2'); res.end('slow down'); return;
    case 'reset': res.writeHead(200, { 'content-length': '1000' }); res.write('part'); setTimeout(() => req.socket.destroy(), 20); return;
    case 'hangup': req.socket.destroy(); return;
    case 'hang': setTimeout(() => res.destroyed || res.end('too late'), 8000); return; // past the 3 s timeout
    case 'slow': { // a 2xx that drips 10 bytes over a second: inside the timeout, so it completes
      ok(); res.writeHead(200); let n = 0;
      const t = setInterval(() => (++n < 10 ? res.write('.') : (clearInterval(t), res.end('.'))), 100);
      res.on('close', () => clearInterval(t)); return;
    }
    case 'redirect': res.statusCode = 307; res.setHeader('location', '/final'); res.end(); return;
    case 'big': ok(); res.writeHead(200); res.end(Buffer.alloc(2 * 1024 * 1024, 97)); return;
  }
}

const hook = createServer((req, res) => { req.resume(); req.on('end', () => hostile(req, res)); });
await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;

// Fast retries, a 3 s timeout and a 20 s consumer budget so a run drains in minutes.
const server = new DevServer(
  { MIN_RETRY_DELAY: '1', MAX_RETRY_DELAY: '3', SWEEP_GRACE: '5', SWEEP_WALK_LAG: '5', DEFAULT_TIMEOUT: '3', MAX_TIMEOUT: '10', CONSUMER_BUDGET: '20' },
  2000,
);
await server.start();
const started = performance.now();

const accepted = new Set<string>();
let refused = 0;
/** Enqueues like a careful client: retries through outages with the same Idempotency-Key. */
async function enqueueOne(i: number) {
  for (;;) {
    try {
      const res = await fetch(`${server.base}/?url=${encodeURIComponent(hookUrl)}&max_retries=100`, {
        method: 'POST', body: `n=${i}`, headers: { 'idempotency-key': `soak-${i}` },
      });
      if (res.status === 201 || res.status === 200) return accepted.add(((await res.json()) as { id: string }).id);
      refused++;
    } catch {
      refused++;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
async function enqueueBatch(from: number, to: number) {
  const items = Array.from({ length: to - from }, (_, k) => ({ url: hookUrl, body: `n=${from + k}`, max_retries: 100, idempotency_key: `soak-${from + k}` }));
  for (;;) {
    try {
      const res = await fetch(`${server.base}/batch`, { method: 'POST', body: JSON.stringify(items), headers: { 'content-type': 'application/json' } });
      if (res.status === 201) {
        for (const t of ((await res.json()) as { tasks: { id: string }[] }).tasks) accepted.add(t.id);
        return;
      }
      refused++;
    } catch {
      refused++;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

// Half the tasks one by one, half in batches of 50, while the server is killed KILLS times.
const half = Math.floor(N / 2);
let next = 0;
const singles = Promise.all(Array.from({ length: 8 }, async () => { while (next < half) await enqueueOne(next++); }));
const batches = (async () => { for (let i = half; i < N; i += 50) await enqueueBatch(i, Math.min(N, i + 50)); })();
let kills = 0;
const killer = (async () => {
  for (let k = 1; k <= KILLS; k++) {
    await waitFor(`kill point ${k}`, async () => (accepted.size >= (N * k) / (KILLS + 1) ? true : undefined), DRAIN_MS);
    await server.kill();
    kills++;
    console.log(`soak: SIGKILL #${k} with ${accepted.size} tasks accepted; restarting`);
    await server.start();
  }
})();
await Promise.all([singles, batches, killer]);
const enqueuedAt = performance.now();
console.log(`soak: ${accepted.size} tasks accepted in ${Math.round((enqueuedAt - started) / 1000)} s (${refused} refused or failed requests retried)`);

// Drain: every accepted task must end completed.
const status = async (id: string) => ((await (await fetch(`${server.base}/tasks/${id}`)).json()) as { status: string; attempts: number });
let pendingIds = [...accepted];
const attempts = new Map<string, number>();
await waitFor('drain', async () => {
  const still: string[] = [];
  for (const id of pendingIds) {
    const t = await status(id);
    if (t.status === 'completed') attempts.set(id, t.attempts);
    else still.push(id);
  }
  pendingIds = still;
  if (still.length) console.log(`soak: ${still.length} tasks not completed yet`);
  return still.length === 0 ? true : undefined;
}, DRAIN_MS).catch(() => undefined);
const drainedAt = performance.now();

const lost = pendingIds.length + [...accepted].filter((id) => !delivered.has(id) && !pendingIds.includes(id)).length;
const duplicates = [...accepted].filter((id) => (delivered.get(id) ?? 0) > 1).length;
const report = {
  tasks: N, accepted: accepted.size, kills,
  delivered: [...accepted].filter((id) => delivered.has(id)).length,
  completed: accepted.size - pendingIds.length,
  lost,
  duplicate_deliveries: duplicates,
  duplicate_rate: Math.round((duplicates / Math.max(1, accepted.size)) * 10000) / 10000,
  hook_calls: [...calls.values()].reduce((a, b) => a + b, 0),
  attempts_per_task: Math.round(([...attempts.values()].reduce((a, b) => a + b, 0) / Math.max(1, attempts.size)) * 100) / 100,
  seconds_to_accept: Math.round((enqueuedAt - started) / 1000),
  seconds_to_drain: Math.round((drainedAt - enqueuedAt) / 1000),
};
console.log(JSON.stringify(report));
await server.stop();
hook.closeAllConnections();
hook.close();
process.exit(lost === 0 ? 0 : 1);
