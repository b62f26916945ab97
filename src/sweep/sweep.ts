import { getConfig } from '../config';
import { openDb } from '../store';
import { expireOld, foldNew } from '../store/fold';
import { pruneStats, SWEEP_CHUNK, wakeRound, type Due } from '../store/sweep';
import { nudge } from '../tasks/nudge';

// Rounds per cron run: bounded so one run stays far inside D1's per-invocation query limit
// (a wake round is 2 round trips of at most 10 statements), while still handling up to
// ROUNDS * SWEEP_CHUNK rows of each kind per minute.
const ROUNDS = 20;

export interface SweepReport {
  recovered: number;
  resent: number;
  deleted: number;
}

export async function sweep(env: Env, now = Date.now()): Promise<SweepReport> {
  const cfg = getConfig(env);
  const db = openDb(env.DB);
  const grace = cfg.SWEEP_GRACE * 1000;
  // The rows are updated before they are sent: if the queue is down, the send fails but the sweep
  // goes on (deletions still happen), and the tasks come back on a later run.
  const send = (due: Due[]) => nudge(env, due, now);
  // New tasks first: the walk hands the unfinished ones to the wake index, which comes next.
  const lag = cfg.SWEEP_WALK_LAG * 1000;
  await foldNew(db, now, lag, grace);
  const report: SweepReport = { recovered: 0, resent: 0, deleted: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    const round = await wakeRound(db, now, grace, cfg.FAILED_TTL * 1000);
    await send(round.send);
    report.recovered += round.recovered;
    report.resent += round.resent;
    report.deleted += round.deleted;
    if (round.seen < SWEEP_CHUNK) break;
  }
  report.deleted += await expireOld(db, now, lag, cfg.COMPLETED_TTL * 1000, ROUNDS);
  await pruneStats(db, now);
  return report;
}
