import { getConfig } from './config';
import { openDb } from './db';
import { SWEEP_CHUNK, deleteExpired, pruneStats, recoverLeases, takeUnsent } from './db/sweep';
import { sendTaskMessages } from './send';

// Rounds per cron run: bounded so one run stays far inside D1's per-invocation query limit,
// while still moving up to ROUNDS * SWEEP_CHUNK rows of each kind per minute.
const ROUNDS = 20;

export interface SweepReport {
  recovered: number;
  resent: number;
  deleted: number;
}

export async function sweep(env: Env, now = Date.now()): Promise<SweepReport> {
  const cfg = getConfig(env);
  const db = openDb(env.DB);
  const report: SweepReport = { recovered: 0, resent: 0, deleted: 0 };

  for (let i = 0; i < ROUNDS; i++) {
    const back = await recoverLeases(db, now, cfg.FAILED_TTL * 1000);
    await sendTaskMessages(env, back, now);
    report.recovered += back.length;
    if (back.length < SWEEP_CHUNK) break;
  }
  for (let i = 0; i < ROUNDS; i++) {
    // One minute ahead: the cron's own period, so a coming-due task is sent before it is due.
    const unsent = await takeUnsent(db, now, cfg.SWEEP_GRACE * 1000, 60_000);
    await sendTaskMessages(env, unsent, now);
    report.resent += unsent.length;
    if (unsent.length < SWEEP_CHUNK) break;
  }
  for (let i = 0; i < ROUNDS; i++) {
    const n = await deleteExpired(db, now);
    report.deleted += n;
    if (n < SWEEP_CHUNK) break;
  }
  await pruneStats(db, now);
  return report;
}
