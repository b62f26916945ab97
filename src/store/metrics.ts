import type { DB } from '.';
import { TASK_STATUSES, type TaskStatus } from './schema';

// Every app at once, in one D1 batch (one transaction): the counter rows, each app's live range of
// new ids (the app's ids since its last fold), the first entry of each app's range in the index of
// tracked waiting tasks, and each app's minute rollups (the last day's, and all kept plus the pruned
// totals for the all-time counters). Nothing walks the tasks table.
// ?1 now, ?2 first minute of the last day.
export const METRICS_SQL = {
  folded: `SELECT app_id, pending, in_progress, retry, completed, failed,
      enqueued_total, attempts_total, completed_total, failed_total FROM app_stats`,
  live: `SELECT s.app_id, t.status, count(*) AS n, sum(t.created_at >= ?2 * 60000) AS day,
      min(CASE WHEN t.status IN ('pending', 'retry') AND t.due_at <= ?1 THEN t.due_at END) AS overdue
    FROM app_stats AS s CROSS JOIN tasks AS t ON t.app_id = s.app_id AND t.id > s.folded_to GROUP BY s.app_id, t.status`,
  tracked: `SELECT s.app_id, (SELECT min(due_at) FROM tasks WHERE app_id = s.app_id AND wake_at IS NOT NULL
      AND status IN ('pending', 'retry') AND due_at <= ?1) AS overdue FROM app_stats AS s`,
  day: `SELECT app_id, sum(enqueued) AS enqueued, sum(attempts) AS attempts, sum(completed) AS completed, sum(failed) AS failed
    FROM stats_minutes WHERE app_id IN (SELECT app_id FROM app_stats) AND minute >= ?2 GROUP BY app_id`,
  // Every minute still kept (at most two days, see pruneStats), for the all-time counters.
  kept: `SELECT app_id, sum(enqueued) AS enqueued, sum(attempts) AS attempts, sum(completed) AS completed, sum(failed) AS failed
    FROM stats_minutes WHERE app_id IN (SELECT app_id FROM app_stats) GROUP BY app_id`,
};

type Row = Record<string, number | string | null>;
type Throughput = { enqueued: number; attempts: number; completed: number; failed: number };
export interface AppMetrics {
  app: string;
  tasks: Record<TaskStatus, number>;
  lastDay: Throughput;
  /** Since the app began: monotonic, for Prometheus counters. */
  total: Throughput;
  oldestOverdueSeconds: number | null;
}

export async function allAppMetrics(db: DB, now: number): Promise<AppMetrics[]> {
  const d1 = db.$client;
  const since = Math.floor(now / 60_000) - 1439;
  const [folded, live, tracked, day, kept] = (await d1.batch([
    d1.prepare(METRICS_SQL.folded),
    d1.prepare(METRICS_SQL.live).bind(now, since),
    d1.prepare(METRICS_SQL.tracked).bind(now),
    d1.prepare(METRICS_SQL.day).bind(now, since),
    d1.prepare(METRICS_SQL.kept),
  ])).map((r) => r.results as Row[]);
  return folded.map((f) => {
    const app = String(f.app_id);
    const mine = live.filter((r) => r.app_id === app);
    const sums = day.find((r) => r.app_id === app) ?? {};
    const all = kept.find((r) => r.app_id === app) ?? {};
    const num = (v: unknown) => Number(v ?? 0);
    const overdue = [...mine.map((r) => r.overdue), tracked.find((r) => r.app_id === app)?.overdue].filter((v): v is number => typeof v === 'number');
    // Tasks not yet folded are counted as enqueued from their id range (the fold moves them into
    // the rollups in the same transaction, so the sums never double count nor drop).
    const liveEnqueued = (field: 'day' | 'n') => mine.reduce((n, r) => n + num(r[field]), 0);
    return {
      app,
      tasks: Object.fromEntries(TASK_STATUSES.map((s) => [s, num(f[s]) + num(mine.find((r) => r.status === s)?.n)])) as Record<TaskStatus, number>,
      lastDay: {
        enqueued: num(sums.enqueued) + liveEnqueued('day'),
        attempts: num(sums.attempts),
        completed: num(sums.completed),
        failed: num(sums.failed),
      },
      total: {
        enqueued: num(f.enqueued_total) + num(all.enqueued) + liveEnqueued('n'),
        attempts: num(f.attempts_total) + num(all.attempts),
        completed: num(f.completed_total) + num(all.completed),
        failed: num(f.failed_total) + num(all.failed),
      },
      oldestOverdueSeconds: overdue.length ? Math.max(0, Math.round((now - Math.min(...overdue)) / 1000)) : null,
    };
  });
}
