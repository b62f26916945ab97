#!/usr/bin/env node
// `npm run dev`: local Torque on http://localhost:8787 with local D1 (migrated first), local
// Queues, and the cron sweeper fired every minute (wrangler dev does not run crons by itself).
// Extra arguments go to `wrangler dev` (e.g. --port 9999, --persist-to DIR).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const port = flag('--port', process.env.PORT ?? '8787');
const persist = flag('--persist-to');
const wrangler = (cmd, opts) =>
  spawn('npx', ['wrangler', ...cmd], { stdio: 'inherit', ...opts });

const migrate = spawnSync('npx', ['wrangler', 'd1', 'migrations', 'apply', 'DB', '--local', ...(persist ? ['--persist-to', persist] : [])], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

// Local dev is open unless .dev.vars says otherwise, and says so.
const devVars = existsSync('.dev.vars') ? readFileSync('.dev.vars', 'utf8') : '';
const extra = [];
if (!/^\s*AUTHENTICATE\s*=/m.test(devVars)) {
  extra.push('--var', 'AUTHENTICATE:false');
  console.log('\n  Torque dev: AUTHENTICATE=false (no API keys needed). Set AUTHENTICATE=true in .dev.vars to change that.\n');
}
// Local hooks live on 127.0.0.1, which a deployed Torque refuses (BLOCK_PRIVATE_ADDRESSES).
if (!/^\s*BLOCK_PRIVATE_ADDRESSES\s*=/m.test(devVars)) extra.push('--var', 'BLOCK_PRIVATE_ADDRESSES:false');
const hasPort = args.includes('--port');
const dev = wrangler(['dev', '--local', '--test-scheduled', ...(hasPort ? [] : ['--port', port]), ...extra, ...args]);

// Fire the scheduled handler once a minute, like the cron trigger in production.
const tick = setInterval(() => {
  fetch(`http://127.0.0.1:${port}/__scheduled?cron=*+*+*+*+*`).catch(() => {});
}, Number(process.env.TORQUE_SWEEP_EVERY_MS ?? 60_000));

const stop = (sig) => {
  clearInterval(tick);
  dev.kill(sig);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
dev.on('exit', (code) => {
  clearInterval(tick);
  process.exit(code ?? 0);
});
