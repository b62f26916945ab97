import { getConfig, type Config } from '../config';
import type { DB } from '../store';
import { openShards } from '../store/shards';
import { fireDueSchedules } from '../schedules/tick';
import { expireOld, foldNew } from '../store/fold';
import { pruneStats, SWEEP_CHUNK, wakeRound, type Due } from '../store/sweep';
import { nudge } from '../tasks/nudge';
import { pruneKeys } from '../store/idempotency';

// Rounds per cron run: bounded so one run stays far inside D1's per-invocation query limit
// (a wake round is 2 round trips of at most 10 statements), while still handling up to
// ROUNDS * SWEEP_CHUNK rows of each kind per minute. Several databases share the limit.
const ROUNDS = 20;

export interface SweepReport {
  recovered: number;
  resent: number;
  deleted: number;
  /** Tasks made by schedules this tick. */
  scheduled: number;
  /** Databases whose sweep failed this time (their tasks are caught up on a later run). */
  failed: string[];
}

/** Sweeps every database at once; one that fails or is slow holds up none of the others. */
export async function sweep(env: Env, now = Date.now()): Promise<SweepReport> {
  const cfg = getConfig(env);
  const shards = openShards(env, cfg);
  const rounds = Math.max(1, Math.floor(ROUNDS / shards.all.length));
  const [scheduled, ...each] = await Promise.allSettled([
    fireDueSchedules(env, shards.home.db, now, ROUNDS),
    ...shards.all.map((s) => sweepOne(env, cfg, s.db, now, rounds)),
  ]);
  const report: SweepReport = { recovered: 0, resent: 0, deleted: 0, scheduled: 0, failed: [] };
  if (scheduled.status === 'fulfilled') report.scheduled = scheduled.value;
  else {
    console.error('firing schedules failed', scheduled.reason);
    report.failed.push('schedules');
  }
  each.forEach((r, i) => {
    if (r.status === 'rejected') {
      console.error(`sweep of ${shards.all[i].binding} failed`, r.reason);
      report.failed.push(shards.all[i].binding);
      return;
    }
    report.recovered += r.value.recovered;
    report.resent += r.value.resent;
    report.deleted += r.value.deleted;
  });
  return report;
}

async function sweepOne(env: Env, cfg: Config, db: DB, now: number, rounds: number) {
  const grace = cfg.SWEEP_GRACE * 1000;
  // The rows are updated before they are sent: if the queue is down, the send fails but the sweep
  // goes on (deletions still happen), and the tasks come back on a later run.
  const send = (due: Due[]) => nudge(env, due, now);
  // New tasks first: the walk hands the unfinished ones to the wake index, which comes next.
  const lag = cfg.SWEEP_WALK_LAG * 1000;
  await foldNew(db, now, lag, grace);
  const report = { recovered: 0, resent: 0, deleted: 0 };
  for (let i = 0; i < rounds; i++) {
    const round = await wakeRound(db, now, grace, cfg.FAILED_TTL * 1000);
    await send(round.send);
    report.recovered += round.recovered;
    report.resent += round.resent;
    report.deleted += round.deleted;
    if (round.seen < SWEEP_CHUNK) break;
  }
  report.deleted += await expireOld(db, now, lag, cfg.COMPLETED_TTL * 1000, rounds);
  await pruneStats(db, now);
  // A key whose task still lives is looked at again an hour later at the soonest.
  await pruneKeys(db, now, Math.max(cfg.IDEMPOTENCY_TTL * 1000, 3_600_000), rounds);
  return report;
}
