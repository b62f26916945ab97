// Starts Torque the way the README does (`npm run dev`, i.e. scripts/dev.mjs) on a free port with
// its own local state, for end-to-end tests. Detached into its own process group so that a
// SIGKILL reaches wrangler and workerd too.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { startHookServer } from '../hook-server.ts';

/**
 * wrangler.toml with `n` D1 databases (DB, DB_1, ...) and DATABASES naming them all, written into
 * `dir` (paths made absolute): the config a user with several databases would have.
 */
export function configWithDatabases(dir: string, n: number): string {
  const base = readFileSync('wrangler.toml', 'utf8')
    .replace(/^main = "(.*)"$/m, (_, m) => `main = ${JSON.stringify(resolve(m))}`)
    .replace(/^migrations_dir = "(.*)"$/m, (_, m) => `migrations_dir = ${JSON.stringify(resolve(m))}`);
  const extra = Array.from({ length: n - 1 }, (_, i) => `
[[d1_databases]]
binding = "DB_${i + 1}"
database_name = "torque-${i + 1}"
database_id = "00000000-0000-0000-0000-00000000000${i + 1}"
migrations_dir = ${JSON.stringify(resolve('migrations'))}
`).join('');
  const names = ['DB', ...Array.from({ length: n - 1 }, (_, i) => `DB_${i + 1}`)].join(',');
  const file = join(dir, 'wrangler.toml');
  writeFileSync(file, base.replace('[vars]\n', `[vars]\nDATABASES = "${names}"\n`) + extra);
  return file;
}

/**
 * Arguments that make `npm run dev` ignore the developer's `.dev.vars` (an empty --env-file takes
 * its place), so a test runs with the configuration it sets and nothing else.
 */
export function withoutDevVars(): string[] {
  const file = join(mkdtempSync(join(tmpdir(), 'torque-e2e-env-')), 'empty.env');
  writeFileSync(file, '');
  return ['--env-file', file];
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {}
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export class DevServer {
  readonly port = 8300 + Math.floor(Math.random() * 1200);
  readonly base = `http://127.0.0.1:${this.port}`;
  readonly state = mkdtempSync(join(tmpdir(), 'torque-e2e-'));
  child: ChildProcess | undefined;
  output = '';

  private vars: Record<string, string>;
  private sweepEveryMs: number;
  private config: string[];

  /** `databases` > 1 serves Torque with that many local D1 databases (see configWithDatabases). */
  constructor(vars: Record<string, string> = {}, sweepEveryMs = 1000, databases = 1) {
    this.vars = vars;
    this.sweepEveryMs = sweepEveryMs;
    this.config = databases > 1 ? ['--config', configWithDatabases(mkdtempSync(join(tmpdir(), 'torque-e2e-config-')), databases)] : [];
  }

  async start(): Promise<void> {
    const vars = Object.entries(this.vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
    this.child = spawn(process.execPath, ['scripts/dev.mjs', '--port', String(this.port), '--persist-to', this.state, ...this.config, ...withoutDevVars(), ...vars], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TORQUE_SWEEP_EVERY_MS: String(this.sweepEveryMs) },
    });
    const keep = (b: Buffer) => (this.output = (this.output + b.toString()).slice(-20_000));
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    await waitFor('wrangler dev', async () => ((await fetch(`${this.base}/`)).ok ? true : undefined), 90_000);
  }

  /** SIGKILL the whole process group (node, wrangler, workerd) and wait for it to go. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
    await gone;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.state, { recursive: true, force: true });
  }
}

/** Starts a real hook server and `server` before a suite's tests and stops both after them. */
export function serveForSuite(server: DevServer): { hooks: Awaited<ReturnType<typeof startHookServer>> } {
  const suite = {} as { hooks: Awaited<ReturnType<typeof startHookServer>> };
  before(async () => {
    suite.hooks = await startHookServer();
    await server.start();
  });
  after(async () => {
    await server.stop();
    suite.hooks?.server.closeAllConnections();
    suite.hooks?.server.close();
  });
  return suite;
}
