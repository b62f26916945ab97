// Starts Torque the way the README does (`npm run dev`, i.e. scripts/dev.mjs) on a free port with
// its own local state, for end-to-end tests. Detached into its own process group so that a
// SIGKILL reaches wrangler and workerd too.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

  constructor(vars: Record<string, string> = {}, sweepEveryMs = 1000) {
    this.vars = vars;
    this.sweepEveryMs = sweepEveryMs;
  }

  async start(): Promise<void> {
    const vars = Object.entries(this.vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
    this.child = spawn(process.execPath, ['scripts/dev.mjs', '--port', String(this.port), '--persist-to', this.state, ...vars], {
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
