import type { DB } from './index';
import { ARCHIVE_PREVIOUS } from './outcomes';

// Sweeper statements, in plain SQL because they are UPDATE/DELETE ... WHERE id IN (subquery)
// batches that read best as SQL. Each touches at most SWEEP_CHUNK rows picked through the
// (status, due_at) index, so a run's cost depends on how much is due, never on how many
// tasks are stored (test/query-plans.test.ts checks this).
export const SWEEP_CHUNK = 500;
const DAY_MS = 86_400_000;

export type Due = { id: string; dueAt: number };

const EXPIRED_LEASES = `SELECT id FROM tasks WHERE status = 'in_progress' AND due_at <= ?1 LIMIT ${SWEEP_CHUNK}`;

export const SWEEP_SQL = {
  archiveLost: `${ARCHIVE_PREVIOUS}
    FROM tasks AS t WHERE t.id IN (${EXPIRED_LEASES}) AND t.attempts > 1 AND t.last_started_at IS NOT NULL`,
  recoverLeases: `
    UPDATE tasks SET
      status = CASE WHEN attempts - retry_base > max_retries THEN 'failed' ELSE 'retry' END,
      due_at = CASE WHEN attempts - retry_base > max_retries THEN ?1 + ?2 ELSE ?1 END,
      last_started_at = updated_at,
      last_duration_ms = ?1 - updated_at,
      last_status_code = NULL,
      last_error = 'lease_expired: the attempt did not report back before its lease ran out',
      last_response = NULL,
      updated_at = ?1
    WHERE id IN (${EXPIRED_LEASES})
    RETURNING id, due_at AS dueAt, status`,
  // ?1 now, ?2 now - grace: overdue means the message was lost; due_at moves to now so the
  // next run waits another grace period before sending again.
  overdue: `
    UPDATE tasks SET due_at = ?1, updated_at = ?1
    WHERE id IN (SELECT id FROM tasks WHERE status IN ('pending', 'retry') AND due_at <= ?2 LIMIT ${SWEEP_CHUNK})
    RETURNING id, due_at AS dueAt`,
  // ?1 now, ?2 now - grace, ?3 now + horizon: tasks scheduled more than a day ahead were never
  // messaged (Queues caps delays at 24 h). Touching updated_at marks them as sent.
  comingDue: `
    UPDATE tasks SET updated_at = ?1
    WHERE id IN (SELECT id FROM tasks WHERE status IN ('pending', 'retry')
                   AND due_at > ?2 AND due_at <= ?3 AND due_at - updated_at > ${DAY_MS} LIMIT ${SWEEP_CHUNK})
    RETURNING id, due_at AS dueAt`,
  deleteExpired: `
    DELETE FROM tasks WHERE id IN (
      SELECT id FROM tasks WHERE status IN ('completed', 'failed') AND due_at <= ?1 LIMIT ${SWEEP_CHUNK})
    RETURNING id`,
  pruneStats: `DELETE FROM stats_minutes WHERE minute < ?1`,
};

/**
 * In-progress tasks whose lease ran out (their worker died): back to retry, or failed if spent.
 * The lost attempt is recorded like any other (started at the claim, error lease_expired), after
 * the attempt before it is moved into the log.
 */
export async function recoverLeases(db: DB, now: number, failedTtlMs: number): Promise<Due[]> {
  const d1 = db.$client;
  const [, recovered] = await d1.batch<Due & { status: string }>([
    d1.prepare(SWEEP_SQL.archiveLost).bind(now),
    d1.prepare(SWEEP_SQL.recoverLeases).bind(now, failedTtlMs),
  ]);
  return recovered.results.filter((r) => r.status === 'retry');
}

/** Waiting tasks that need a message: overdue ones (message lost) and long-delayed ones coming due. */
export async function takeUnsent(db: DB, now: number, graceMs: number, horizonMs: number): Promise<Due[]> {
  const d1 = db.$client;
  const [overdue, coming] = await d1.batch<Due>([
    d1.prepare(SWEEP_SQL.overdue).bind(now, now - graceMs),
    d1.prepare(SWEEP_SQL.comingDue).bind(now, now - graceMs, now + horizonMs),
  ]);
  return [...overdue.results, ...coming.results];
}

/** Deletes completed and failed tasks whose TTL ran out (attempt logs go with them by cascade). */
export async function deleteExpired(db: DB, now: number): Promise<number> {
  const { results } = await db.$client.prepare(SWEEP_SQL.deleteExpired).bind(now).all();
  return results.length;
}

/** Throughput rollups older than two days are no longer shown anywhere. */
export async function pruneStats(db: DB, now: number): Promise<void> {
  await db.$client.prepare(SWEEP_SQL.pruneStats).bind(Math.floor((now - 2 * DAY_MS) / 60_000)).run();
}
