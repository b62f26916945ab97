// Recording outcomes: what it costs in D1 statements, and that the counters stay exact whether or
// not the sweeper's walk counted a task between its claim and its recording.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../src/config';
import { openDb } from '../src/store';
import { claimTasks } from '../src/store/claim';
import { recordOutcomes, type Outcome } from '../src/store/outcomes';
import { sweep } from '../src/sweep/sweep';
import { watchedD1 } from './d1-wrap';
import { afterWalk, enqueue, expectCountsExact, getTask, hook } from './helpers';

const GRACE = 300_000;
const LAG = getConfig(env).ms.SWEEP_WALK_LAG;

/** Enqueues `n` tasks and claims them, as a consumer would. */
async function claimedTasks(n: number) {
  const url = hook('ok').url;
  const keys = [];
  for (let i = 0; i < n; i++) keys.push({ appId: 'default', id: (await enqueue(url)).task.id as string });
  const claimed = await claimTasks(openDb(env.DB), keys, Date.now(), GRACE);
  expect(claimed).toHaveLength(n);
  return claimed;
}

const completed = (task: Outcome['task']): Outcome => ({
  task, next: { status: 'completed', expiresAt: Date.now() + 86_400_000 }, startedAt: Date.now() - 5, durationMs: 5, statusCode: 200, error: null, response: 'ok',
});

/** Records the outcomes over a D1 that counts what it is sent; answers the statements sent. */
async function record(outcomes: Outcome[], walkLagMs = LAG) {
  let prepared = 0;
  const db = openDb(watchedD1(env.DB, { prepare: () => void prepared++ }));
  const reported = await recordOutcomes(db, outcomes, { graceMs: GRACE, walkLagMs });
  expect(reported).toBe(prepared);
  return prepared;
}

describe('recording outcomes', () => {
  it('records tasks the walk has not counted yet with two statements: throughput and the rows', async () => {
    const tasks = await claimedTasks(3);
    expect(await record(tasks.map(completed))).toBe(2);
    for (const t of tasks) expect((await getTask(t.id)).status).toBe('completed');
    await expectCountsExact();
  });

  it('moves the counters of a task the walk counted after its claim (in a second transaction, throughput counted once)', async () => {
    const tasks = await claimedTasks(2);
    // The walk runs between the claim and the recording (a task this young: the race), and counts
    // both as in_progress: the counters must see them go from in_progress to completed.
    await sweep(env, afterWalk());
    const attempts = () => env.DB.prepare(`SELECT coalesce(sum(attempts), 0) AS n FROM stats_minutes WHERE app_id = 'default'`).first<{ n: number }>();
    const before = (await attempts())!.n;
    // The first transaction writes nothing of theirs; the second writes them all (3 statements).
    expect(await record(tasks.map(completed))).toBe(5);
    for (const t of tasks) expect((await getTask(t.id)).status).toBe('completed');
    expect((await attempts())!.n - before).toBe(2);
    await expectCountsExact();
  });

  it('records older tasks with their counter move in one transaction', async () => {
    const tasks = await claimedTasks(2);
    await sweep(env, afterWalk());
    // A walk lag of 0: no task counts as young, so the counters move with the rows, at once.
    expect(await record(tasks.map(completed), 0)).toBe(3);
    for (const t of tasks) expect((await getTask(t.id)).status).toBe('completed');
    await expectCountsExact();
  });
});
