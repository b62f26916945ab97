import { getConfig, type Config } from '../config';
import type { DB } from '../store';
import { openShards } from '../store/shards';
import { fireDueSchedules } from '../schedules/tick';
import { tendCircuits } from '../flow/alerts';
import { expireOld, rollUpNewTasks } from '../store/walks';
import { pruneStats, wakeRound, type Due } from '../store/sweep';
import { inRounds, tickBudget, WAKE_CHUNK, WAKE_ROUND_COST, type TickBudget } from '../store/rounds';
import { sendTaskMessagesBestEffort } from '../tasks/queue-messages';
import { d1Failure, retryTransient } from '../store/errors';
import { pruneKeys, PRUNE_KEYS_CHUNK } from '../store/idempotency';

// Schedules fire in at most this many chunks per tick (their own budget, see schedules/tick.ts).
const ROUNDS = 20;

export interface SweepReport {
  recovered: number;
  resent: number;
  deleted: number;
  /** Tasks made by schedules this tick. */
  scheduled: number;
  /** Databases whose sweep failed this time (their tasks are caught up on a later run). */
  failed: string[];
  /** Databases with work left when the tick's budget ran out (a backlog: the next ticks go on). */
  behind: string[];
}

/** Sweeps every database at once; one that fails or is slow holds up none of the others. */
export async function sweep(env: Env, now = Date.now()): Promise<SweepReport> {
  const cfg = getConfig(env);
  const shards = openShards(env, cfg);
  // Shared by every database: one with a backlog takes what the others do not need.
  const budget = tickBudget();
  const [circuits, scheduled, ...each] = await Promise.allSettled([
    tendCircuits(cfg, shards.home.db, now),
    fireDueSchedules(env, shards.home.db, { now, chunks: ROUNDS }),
    // A transient D1 failure is tried again at once (every step is guarded by the state it changes,
    // so a repeat after a lost answer does nothing twice); a database still failing waits a tick.
    ...shards.all.map((s) => retryTransient(() => sweepOne(env, cfg, s.db, now, budget))),
  ]);
  const report: SweepReport = { recovered: 0, resent: 0, deleted: 0, scheduled: 0, failed: [], behind: [] };
  if (circuits.status === 'rejected') {
    console.error('pruning circuits or alerting failed', circuits.reason);
    report.failed.push('circuits');
  }
  if (scheduled.status === 'fulfilled') report.scheduled = scheduled.value;
  else {
    console.error('firing schedules failed', scheduled.reason);
    report.failed.push('schedules');
  }
  each.forEach((r, i) => {
    if (r.status === 'rejected') {
      console.error(`sweep of ${shards.all[i].binding} failed (${d1Failure(r.reason) ?? 'not a D1 failure'})`, r.reason);
      report.failed.push(shards.all[i].binding);
      return;
    }
    report.recovered += r.value.recovered;
    report.resent += r.value.resent;
    report.deleted += r.value.deleted;
    if (!r.value.caughtUp) report.behind.push(shards.all[i].binding);
  });
  return report;
}

async function sweepOne(env: Env, cfg: Config, db: DB, now: number, budget: TickBudget) {
  const grace = cfg.ms.SWEEP_GRACE;
  // The rows are updated before they are sent: if the queue is down, the send fails but the sweep
  // goes on (deletions still happen), and the tasks come back on a later run.
  const send = (due: Due[]) => sendTaskMessagesBestEffort(env, due, now);
  // New tasks first: the walk hands the unfinished ones to the wake index, which comes next.
  const lag = cfg.ms.SWEEP_WALK_LAG;
  const folded = await rollUpNewTasks(db, now, lag, grace, budget);
  const report = { recovered: 0, resent: 0, deleted: 0, caughtUp: folded };
  const woken = await inRounds(budget, WAKE_ROUND_COST, WAKE_CHUNK, async () => {
    const round = await wakeRound(db, now, grace, cfg.ms.FAILED_TTL, WAKE_CHUNK);
    await send(round.send);
    report.recovered += round.recovered;
    report.resent += round.resent;
    report.deleted += round.deleted;
    return round.seen;
  });
  const expired = await expireOld(db, now, lag, cfg.ms.COMPLETED_TTL, budget);
  report.deleted += expired.deleted;
  report.caughtUp &&= woken && expired.caughtUp;
  await pruneStats(db, now);
  // A key whose task still lives is looked at again an hour later at the soonest.
  // Rounds of two statements, within the tick's budget as the rest of the sweep.
  await inRounds(budget, 2, PRUNE_KEYS_CHUNK, () => pruneKeys(db, now, Math.max(cfg.ms.IDEMPOTENCY_TTL, 3_600_000)));
  return report;
}
