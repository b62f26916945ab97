import { getConfig } from './config';
import { openDb } from './db';
import { SWEEP_CHUNK, deleteExpired, pruneStats, recoverLeases, takeUnsent, type Due } from './db/sweep';
import { sendTaskMessages } from './send';

// Rounds per cron run: bounded so one run stays far inside D1's per-invocation query limit,
// while still moving up to ROUNDS * SWEEP_CHUNK rows of each kind per minute.
const ROUNDS = 20;

export interface SweepReport {
  recovered: number;
  resent: number;
  deleted: number;
}

/** Repeats one sweeper step while it keeps filling whole chunks, at most ROUNDS times; sums its counts. */
async function rounds(step: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const n = await step();
    total += n;
    if (n < SWEEP_CHUNK) break;
  }
  return total;
}

export async function sweep(env: Env, now = Date.now()): Promise<SweepReport> {
  const cfg = getConfig(env);
  const db = openDb(env.DB);
  // The rows are updated before they are sent: if the queue is down, the send fails but the sweep
  // goes on (deletions still happen), and the tasks come back as overdue on a later run.
  const send = (due: Due[]) =>
    sendTaskMessages(env, due, now).catch((err) => console.error('sweeper send failed; a later run retries', err));
  const recovered = await rounds(async () => {
    const back = await recoverLeases(db, now, cfg.FAILED_TTL * 1000);
    await send(back);
    return back.length;
  });
  const resent = await rounds(async () => {
    // One minute ahead: the cron's own period, so a coming-due task is sent before it is due.
    const unsent = await takeUnsent(db, now, cfg.SWEEP_GRACE * 1000, 60_000);
    await send(unsent);
    return unsent.length;
  });
  const deleted = await rounds(() => deleteExpired(db, now));
  await pruneStats(db, now);
  return { recovered, resent, deleted };
}
