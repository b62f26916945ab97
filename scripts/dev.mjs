#!/usr/bin/env node
// `npm run dev`: local Torque on http://localhost:8787 with local D1 (migrated first, in the very
// state wrangler will serve), local Queues, and the cron sweeper fired every minute (wrangler dev
// does not run crons by itself). Extra arguments go to `wrangler dev`; the ones this script reads
// itself (--port, --persist-to) work as `--port 9000` and as `--port=9000`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { databases, migrateAll, wranglerJs } from './migrate.mjs';

// Normalise `--name=value` to `--name value`, so every option is read (and passed on) one way.
const args = process.argv.slice(2).flatMap((a) => (/^--[\w-]+=/.test(a) ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
const take = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [, value] = args.splice(i, 2);
  return value;
};
const port = take('--port', process.env.PORT ?? '8787');
const persist = take('--persist-to');
const state = persist ? ['--persist-to', persist] : [];

// Every database the config declares is migrated, in the very state wrangler will serve.
const config = args.includes('--config') ? args[args.indexOf('--config') + 1] : args.includes('-c') ? args[args.indexOf('-c') + 1] : undefined;
const failed = await migrateAll({ config, persistTo: persist });
if (failed) {
  process.stderr.write(failed.output);
  process.exit(failed.status);
}
const dbs = await databases(config);

// Local dev is open unless .dev.vars says otherwise, and says so.
const devVars = existsSync('.dev.vars') ? readFileSync('.dev.vars', 'utf8') : '';
const set = (name) => new RegExp(`^\\s*${name}\\s*=`, 'm').test(devVars);
const extra = [];
if (!set('AUTHENTICATE')) extra.push('--var', 'AUTHENTICATE:false');
// Local hooks live on 127.0.0.1, which a deployed Torque refuses (BLOCK_PRIVATE_ADDRESSES).
if (!set('BLOCK_PRIVATE_ADDRESSES')) extra.push('--var', 'BLOCK_PRIVATE_ADDRESSES:false');
const tickMs = Number(process.env.TORQUE_SWEEP_EVERY_MS ?? 60_000);
console.log(`
  Torque dev   http://localhost:${port}
  auth         ${set('AUTHENTICATE') ? 'as .dev.vars says' : 'off (no API keys needed; set AUTHENTICATE=true in .dev.vars to change that)'}
  state        ${persist ?? '.wrangler/state'} (migrated: ${dbs.join(', ')})
  sweeper      every ${tickMs / 1000} s (local cron ticker)
`);

// Offline-friendly and quiet: no Request.cf download (it fails without internet and prints a
// stack trace), no telemetry.
const quiet = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? 'false', WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS ?? 'false' };
const dev = spawn(process.execPath, [wranglerJs, 'dev', '--local', '--test-scheduled', '--port', port, ...state, ...extra, ...args], { stdio: 'inherit', env: quiet });

// Fire the scheduled handler once a minute, like the cron trigger in production.
const tick = setInterval(() => {
  fetch(`http://127.0.0.1:${port}/__scheduled?cron=*+*+*+*+*`).catch(() => {});
}, tickMs);

/** Every process started under `pid` (wrangler's workerd among them), deepest last. */
function descendants(pid) {
  const ps = spawnSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const children = new Map();
  for (const line of (ps.stdout ?? '').trim().split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const out = [];
  for (let i = 0, todo = [pid]; i < todo.length; i++) for (const c of children.get(todo[i]) ?? []) (todo.push(c), out.push(c));
  return out;
}
const signal = (pids, sig) => pids.forEach((p) => { try { process.kill(p, sig); } catch {} });

// Any of SIGINT, SIGTERM, SIGHUP stops everything this script started, whoever sent it to whom:
// wrangler gets the signal (and stops workerd); what is still there 5 s later is killed.
let stopping = false;
let all = [];
const stop = (sig) => {
  if (stopping) return;
  stopping = true;
  clearInterval(tick);
  all = [dev.pid, ...descendants(dev.pid)];
  dev.kill(sig);
  setTimeout(() => {
    signal(all, 'SIGKILL');
    process.exit(0);
  }, 5000).unref();
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => stop(sig));
dev.on('exit', (code) => {
  clearInterval(tick);
  if (!stopping) process.exit(code ?? 0);
  // wrangler is gone; whatever it started and left behind goes too.
  signal(all, 'SIGKILL');
  process.exit(0);
});
