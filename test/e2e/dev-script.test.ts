// `npm run dev` as a user drives it: both spellings of its options, the state it serves migrated,
// and any of SIGINT, SIGTERM, SIGHUP sent to the script alone stopping everything it started.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { waitFor, withoutDevVars } from './dev-server.ts';

/** Pids of every process under `pid`. */
function tree(pid: number): number[] {
  const out = spawnSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' }).stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const all: number[] = [];
  for (let i = 0, todo = [pid]; i < todo.length; i++) for (const [p, pp] of out) if (pp === todo[i]) (todo.push(p), all.push(p));
  return all;
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run dev', { timeout: 240_000 }, () => {
  for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
    it(`takes --port=N and --persist-to=DIR, serves migrated state, and stops everything on ${sig}`, async () => {
      const port = 9500 + Math.floor(Math.random() * 400);
      const state = mkdtempSync(join(tmpdir(), 'torque-dev-'));
      // Its own group, so that the signal below reaches the script alone, not its children.
      const child = spawn(process.execPath, ['scripts/dev.mjs', `--port=${port}`, `--persist-to=${state}`, ...withoutDevVars()], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (b) => (output += b));
      child.stderr.on('data', (b) => (output += b));
      try {
        await waitFor('the dev server', async () => ((await fetch(`http://127.0.0.1:${port}/`)).ok ? true : undefined), 90_000);
        const stats = await fetch(`http://127.0.0.1:${port}/stats`);
        assert.equal(stats.status, 200, `${await stats.text()}\n${output}`); // the served state has the schema
        assert.match(output, new RegExp(`state +${state}`));
        const started = tree(child.pid!);
        assert.ok(started.length >= 2, 'wrangler and workerd run under the script');
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid!, sig);
        await exited;
        await waitFor('every process to stop', async () => (started.every((p) => !alive(p)) ? true : undefined), 15_000);
        await assert.rejects(fetch(`http://127.0.0.1:${port}/`), 'nothing listens on the port any more');
      } finally {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {}
        rmSync(state, { recursive: true, force: true });
      }
    });
  }
});

// What a terminal or a process manager does: `kill <pid>` of the npm process itself. npm passes
// SIGTERM to its child and exits when that child does; nothing of Torque may outlive it.
describe('npm run dev, through npm', { timeout: 240_000 }, () => {
  it('fires the cron on the minute, prints the bindings once, and stops everything when npm gets SIGTERM', async () => {
    const port = 9100 + Math.floor(Math.random() * 400);
    const state = mkdtempSync(join(tmpdir(), 'torque-npm-dev-'));
    // Its own group, so that the SIGTERM below reaches npm alone, as `kill <pid>` does.
    const npm = spawn('npm', ['run', 'dev', '--', '--port', String(port), '--persist-to', state, ...withoutDevVars()], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TORQUE_SWEEP_EVERY_MS: undefined } });
    let output = '';
    npm.stdout.on('data', (b) => (output += b));
    npm.stderr.on('data', (b) => (output += b));
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitFor('the dev server', async () => ((await fetch(`${base}/`)).ok ? true : undefined), 90_000);
      // A schedule due every minute runs on the minute boundary, as the production trigger runs it.
      const schedule = (await (await fetch(`${base}/schedules`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cron: '* * * * *', url: 'http://127.0.0.1:9/never' }) })).json()) as { id: string };
      const task = await waitFor('the schedule to run', async () => {
        const { tasks } = (await (await fetch(`${base}/tasks?schedule_id=${schedule.id}`)).json()) as { tasks: { created_at: string }[] };
        return tasks[0];
      }, 80_000);
      const second = new Date(task.created_at).getUTCSeconds();
      assert.ok(second < 10, `the run's task was made at :${second}, not just after the minute`);
      assert.equal(output.match(/has access to the following bindings/g)?.length, 1, output);

      const started = [npm.pid!, ...tree(npm.pid!)];
      assert.ok(started.length >= 4, 'npm, the script, wrangler and workerd run');
      process.kill(npm.pid!, 'SIGTERM');
      await waitFor('every process to stop', async () => (started.every((p) => !alive(p)) ? true : undefined), 15_000);
      await assert.rejects(fetch(`${base}/`), 'nothing listens on the port any more');
    } finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {}
      rmSync(state, { recursive: true, force: true });
    }
  });
});
