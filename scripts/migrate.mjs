#!/usr/bin/env node
// `npm run migrate`: applies migrations/ to every D1 database the Wrangler config declares (each
// holds the full schema; see README, Scaling out). Local by default; `--remote` for the deployed
// ones. `--config FILE` and `--persist-to DIR` are passed on to wrangler.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

// wrangler itself on this Node (its package exports no bin path, so it is found beside package.json).
export const wranglerJs = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');

/** The D1 bindings a Wrangler config declares. */
export async function databases(config = 'wrangler.toml') {
  const { experimental_readRawConfig } = await import('wrangler');
  const { rawConfig } = experimental_readRawConfig({ config });
  return (rawConfig.d1_databases ?? []).map((d) => d.binding);
}

/** Migrates each database in turn; returns wrangler's output of the first failure, or null. */
export async function migrateAll({ config, remote = false, persistTo } = {}) {
  const where = remote ? ['--remote'] : ['--local', ...(persistTo ? ['--persist-to', persistTo] : [])];
  for (const binding of await databases(config)) {
    const run = spawnSync(process.execPath, [wranglerJs, 'd1', 'migrations', 'apply', binding, ...where, ...(config ? ['--config', config] : [])], {
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      stdio: remote ? 'inherit' : 'pipe',
    });
    if (run.status !== 0) return { binding, output: `${run.stdout ?? ''}${run.stderr ?? ''}`, status: run.status ?? 1 };
  }
  return null;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2).flatMap((a) => (/^--[\w-]+=/.test(a) ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a]));
  const value = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const config = value('--config') ?? value('-c');
  const failed = await migrateAll({ config, remote: args.includes('--remote'), persistTo: value('--persist-to') });
  if (failed) {
    process.stderr.write(`migrating ${failed.binding} failed:\n${failed.output}`);
    process.exit(failed.status);
  }
  console.log(`migrated: ${(await databases(config)).join(', ')} (${args.includes('--remote') ? 'remote' : 'local'})`);
}
