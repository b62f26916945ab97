import { and, eq, gte, sql } from 'drizzle-orm';
import type { DB } from './index';
import { appCounts, statsMinutes, type TaskStatus } from './schema';

/** Task counts by status, read from the app's trigger-maintained counter row. */
export async function countByStatus(db: DB, appId: string): Promise<Record<TaskStatus, number>> {
  const row = await db.query.appCounts.findFirst({ where: eq(appCounts.appId, appId) });
  return {
    pending: row?.pending ?? 0,
    in_progress: row?.inProgress ?? 0,
    retry: row?.retry ?? 0,
    completed: row?.completed ?? 0,
    failed: row?.failed ?? 0,
  };
}

/** Per-minute rollups since `sinceMinute`, oldest first (at most a day of rows per app). */
export async function minuteSeries(db: DB, appId: string, sinceMinute: number) {
  return db
    .select()
    .from(statsMinutes)
    .where(and(eq(statsMinutes.appId, appId), gte(statsMinutes.minute, sinceMinute)))
    .orderBy(statsMinutes.minute);
}

export type Throughput = { enqueued: number; attempts: number; completed: number; failed: number };

/** Sums of the per-minute rollups since `sinceMinute` (at most a day of rows per app). */
export async function throughputSince(db: DB, appId: string, sinceMinute: number): Promise<Throughput> {
  const [row] = await db
    .select({
      enqueued: sql<number>`coalesce(sum(${statsMinutes.enqueued}), 0)`,
      attempts: sql<number>`coalesce(sum(${statsMinutes.attempts}), 0)`,
      completed: sql<number>`coalesce(sum(${statsMinutes.completed}), 0)`,
      failed: sql<number>`coalesce(sum(${statsMinutes.failed}), 0)`,
    })
    .from(statsMinutes)
    .where(and(eq(statsMinutes.appId, appId), gte(statsMinutes.minute, sinceMinute)));
  return row;
}

// The oldest overdue waiting task of an app, from the (status, due_at) index: at most
// OVERDUE_WINDOW of the most overdue tasks per status are looked at, so the cost is bounded.
// Exact while fewer than that many tasks (of all apps) are overdue; otherwise a lower bound.
export const OVERDUE_WINDOW = 1000;
const overdueRange = (status: string) =>
  `SELECT * FROM (SELECT due_at, app_id FROM tasks WHERE status = '${status}' AND due_at <= ?2 ORDER BY due_at LIMIT ${OVERDUE_WINDOW})`;
export const OLDEST_OVERDUE_SQL = `SELECT min(due_at) AS oldest, count(*) AS seen FROM (
  ${overdueRange('pending')} UNION ALL ${overdueRange('retry')}) WHERE app_id = ?1`;

/** Seconds the caller's most overdue waiting task has been waiting past its due time, or null. */
export async function oldestOverdue(db: DB, appId: string, now: number): Promise<number | null> {
  const row = await db.$client.prepare(OLDEST_OVERDUE_SQL).bind(appId, now).first<{ oldest: number | null }>();
  return row?.oldest == null ? null : Math.max(0, Math.round((now - row.oldest) / 1000));
}
