#!/usr/bin/env node
// `npm run dev`: local Torque on http://localhost:8787 with local D1 (migrated first, in the very
// state wrangler will serve), local Queues, and the cron fired at every minute boundary, as the
// production trigger fires it (wrangler dev does not run crons by itself). Extra arguments go to
// `wrangler dev`; the ones this script reads itself (--port, --persist-to) work as `--port 9000`
// and as `--port=9000`. TORQUE_SWEEP_EVERY_MS changes the tick (tests use 1000).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
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

// Local dev is open unless .dev.vars says otherwise, and says so. With --env-file, wrangler reads
// those files instead of .dev.vars (tests use that to leave a developer's .dev.vars out).
const envFiles = args.flatMap((a, i) => (a === '--env-file' ? [args[i + 1]] : []));
const devVars = (envFiles.length ? envFiles : ['.dev.vars']).map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '')).join('\n');
const set = (name) => new RegExp(`^\\s*${name}\\s*=`, 'm').test(devVars);
const extra = [];
if (!set('AUTHENTICATE')) extra.push('--var', 'AUTHENTICATE:false');
// Local hooks live on 127.0.0.1, which a deployed Torque refuses (BLOCK_PRIVATE_ADDRESSES).
if (!set('BLOCK_PRIVATE_ADDRESSES')) extra.push('--var', 'BLOCK_PRIVATE_ADDRESSES:false');
const tickMs = Number(process.env.TORQUE_SWEEP_EVERY_MS || 60_000);
console.log(`
  Torque dev   http://localhost:${port}
  auth         ${set('AUTHENTICATE') ? `as ${envFiles.join(', ') || '.dev.vars'} says` : 'off (no API keys needed; set AUTHENTICATE=true in .dev.vars to change that)'}
  state        ${persist ?? '.wrangler/state'} (migrated: ${dbs.join(', ')})
  cron         every ${tickMs / 1000} s, on the boundary (GET /__scheduled?cron=*+*+*+*+* fires it by hand)
`);

// Offline-friendly and quiet: no Request.cf download (it fails without internet and prints a
// stack trace), no telemetry.
const quiet = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? 'false', WRANGLER_SEND_METRICS: process.env.WRANGLER_SEND_METRICS ?? 'false' };
// stdout is piped (not inherited) so that wrangler's bindings table, which it prints again on every
// reload, is shown once; stdin stays ours, stderr goes straight through.
const color = process.stdout.isTTY ? { FORCE_COLOR: process.env.FORCE_COLOR ?? '1' } : {};
const dev = spawn(process.execPath, [wranglerJs, 'dev', '--local', '--test-scheduled', '--port', port, ...state, ...extra, ...args], { stdio: ['inherit', 'pipe', 'inherit'], env: { ...quiet, ...color } });
// The terminal may be gone (a closed window): writing there must not kill the script before it stops wrangler.
process.stdout.on('error', () => {});
let bindingsShown = false;
let skipping = false;
createInterface({ input: dev.stdout }).on('line', (line) => {
  if (line.includes('has access to the following bindings')) {
    skipping = bindingsShown;
    bindingsShown = true;
  } else if (skipping && line.trim() === '') {
    skipping = false;
    return;
  }
  if (!skipping) process.stdout.write(`${line}\n`);
});

// Fire the scheduled handler at each multiple of tickMs (every minute on :00 by default), like the
// cron trigger in production: a timer may wake a moment early, so it never fires before the mark.
const nextMark = () => Math.floor(Date.now() / tickMs) * tickMs + tickMs;
let mark = nextMark();
let tick;
const nextTick = () => {
  tick = setTimeout(() => {
    if (Date.now() < mark) return nextTick();
    mark = nextMark();
    fetch(`http://127.0.0.1:${port}/__scheduled?cron=*+*+*+*+*`).catch(() => {});
    nextTick();
  }, Math.max(0, mark - Date.now()));
};
nextTick();

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
  clearTimeout(tick);
  all = [dev.pid, ...descendants(dev.pid)];
  dev.kill(sig);
  setTimeout(() => {
    signal(all, 'SIGKILL');
    process.exit(0);
  }, 5000).unref();
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => stop(sig));
// A parent that dies without passing a signal on (npm killed with SIGKILL, or a shell between npm
// and this script that a SIGTERM ended) leaves this script orphaned: then it stops too.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && stop('SIGTERM'), 500).unref();
dev.on('exit', (code) => {
  clearTimeout(tick);
  if (!stopping) process.exit(code ?? 0);
  // wrangler is gone; whatever it started and left behind goes too.
  signal(all, 'SIGKILL');
  process.exit(0);
});
