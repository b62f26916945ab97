import { sql } from 'drizzle-orm';
import type { DB } from './index';

// Sweeper statements. Each works on at most CHUNK rows picked through the (status, due_at) index,
// so a run's cost depends on how much is due, never on how many tasks are stored.
export const SWEEP_CHUNK = 500;
const DAY_MS = 86_400_000;

type Due = { id: string; dueAt: number };

/**
 * In-progress tasks whose lease ran out (their worker died): back to retry, or failed if spent.
 * The lost attempt is recorded like any other (started at the claim, error lease_expired), after
 * the attempt before it is moved into the log.
 */
export async function recoverLeases(db: DB, now: number, failedTtlMs: number): Promise<Due[]> {
  const expired = sql`SELECT id FROM tasks WHERE status = 'in_progress' AND due_at <= ${now} LIMIT ${SWEEP_CHUNK}`;
  const archive = db.run(sql`
    INSERT OR IGNORE INTO attempts (task_id, number, started_at, duration_ms, status_code, error, response)
    SELECT id, attempts - 1, last_started_at, last_duration_ms, last_status_code, last_error, last_response
    FROM tasks WHERE id IN (${expired}) AND attempts > 1 AND last_started_at IS NOT NULL`);
  const recover = db.all<Due & { status: string }>(sql`
    UPDATE tasks SET
      status = CASE WHEN attempts > max_retries THEN 'failed' ELSE 'retry' END,
      due_at = CASE WHEN attempts > max_retries THEN ${now + failedTtlMs} ELSE ${now} END,
      last_started_at = updated_at,
      last_duration_ms = ${now} - updated_at,
      last_status_code = NULL,
      last_error = 'lease_expired: the attempt did not report back before its lease ran out',
      last_response = NULL,
      updated_at = ${now}
    WHERE id IN (${expired})
    RETURNING id, due_at AS dueAt, status`);
  const [, rows] = await db.batch([archive, recover]);
  return (rows as (Due & { status: string })[]).filter((r) => r.status === 'retry');
}

/**
 * Waiting tasks that need a message: those overdue by more than the grace (their message was
 * lost) and those coming due whose delay was beyond the queue's 24 h cap (never messaged).
 * Marks them (updated_at, and due_at for overdue ones) so the next run does not send them again.
 */
export async function takeUnsent(db: DB, now: number, graceMs: number, horizonMs: number): Promise<Due[]> {
  const overdue = db.all<Due>(sql`
    UPDATE tasks SET due_at = ${now}, updated_at = ${now}
    WHERE id IN (SELECT id FROM tasks WHERE status IN ('pending', 'retry') AND due_at <= ${now - graceMs} LIMIT ${SWEEP_CHUNK})
    RETURNING id, due_at AS dueAt`);
  const comingDue = db.all<Due>(sql`
    UPDATE tasks SET updated_at = ${now}
    WHERE id IN (SELECT id FROM tasks WHERE status IN ('pending', 'retry')
                   AND due_at > ${now - graceMs} AND due_at <= ${now + horizonMs}
                   AND due_at - updated_at > ${DAY_MS} LIMIT ${SWEEP_CHUNK})
    RETURNING id, due_at AS dueAt`);
  const [a, b] = await db.batch([overdue, comingDue]);
  return [...(a as Due[]), ...(b as Due[])];
}

/** Deletes completed and failed tasks whose TTL ran out (attempt logs go with them by cascade). */
export async function deleteExpired(db: DB, now: number): Promise<number> {
  const gone = await db.all<{ id: string }>(sql`
    DELETE FROM tasks WHERE id IN (
      SELECT id FROM tasks WHERE status IN ('completed', 'failed') AND due_at <= ${now} LIMIT ${SWEEP_CHUNK})
    RETURNING id`);
  return gone.length;
}

/** Throughput rollups older than two days are no longer shown anywhere. */
export async function pruneStats(db: DB, now: number): Promise<void> {
  await db.run(sql`DELETE FROM stats_minutes WHERE minute < ${Math.floor((now - 2 * DAY_MS) / 60_000)}`);
}
