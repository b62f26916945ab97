import { and, eq, gte, sql } from 'drizzle-orm';
import type { DB } from './index';
import { statsMinutes, TASK_STATUSES, taskCounts, type TaskStatus } from './schema';

/** Task counts by status, read from trigger-maintained counters (a handful of rows). */
export async function countByStatus(db: DB, appId: string): Promise<Record<TaskStatus, number>> {
  const rows = await db.select().from(taskCounts).where(eq(taskCounts.appId, appId));
  const out = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
  for (const r of rows) if (r.status in out) out[r.status as TaskStatus] = r.n;
  return out;
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
