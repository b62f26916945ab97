// What the bench, the profile and the soak share: bundling a worker, a loopback hook that notes
// arrivals, migrating a Miniflare D1, and a load loop.
import { build } from 'esbuild';
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

export async function migrate(mf: Miniflare) {
  const db = await mf.getD1Database('DB');
  for (const file of readdirSync('migrations').filter((f) => f.endsWith('.sql')).sort()) {
    for (const stmt of readFileSync(`migrations/${file}`, 'utf8').split('--> statement-breakpoint')) {
      if (stmt.trim()) await db.prepare(stmt).run();
    }
  }
}

