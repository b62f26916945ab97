import type { DB } from '.';
import { TASK_STATUSES, type TaskStatus } from './schema';

// Every app at once, in one D1 batch (one transaction): the counter rows, each app's live range of
// new ids (the app's ids since its last fold), the first entry of each app's range in the index of
// tracked waiting tasks, and each app's minute rollups of the last day. Nothing walks the tasks table.
// ?1 now, ?2 first minute of the last day.
export const METRICS_SQL = {
  folded: `SELECT app_id, pending, in_progress, retry, completed, failed FROM app_stats`,
  live: `SELECT s.app_id, t.status, count(*) AS n, sum(t.created_at >= ?2 * 60000) AS day,
      min(CASE WHEN t.status IN ('pending', 'retry') AND t.due_at <= ?1 THEN t.due_at END) AS overdue
    FROM app_stats AS s CROSS JOIN tasks AS t ON t.app_id = s.app_id AND t.id > s.folded_to GROUP BY s.app_id, t.status`,
  tracked: `SELECT s.app_id, (SELECT min(due_at) FROM tasks WHERE app_id = s.app_id AND wake_at IS NOT NULL
      AND status IN ('pending', 'retry') AND due_at <= ?1) AS overdue FROM app_stats AS s`,
  day: `SELECT app_id, sum(enqueued) AS enqueued, sum(attempts) AS attempts, sum(completed) AS completed, sum(failed) AS failed
    FROM stats_minutes WHERE app_id IN (SELECT app_id FROM app_stats) AND minute >= ?2 GROUP BY app_id`,
};

type Row = Record<string, number | string | null>;
export interface AppMetrics {
  app: string;
  tasks: Record<TaskStatus, number>;
  lastDay: { enqueued: number; attempts: number; completed: number; failed: number };
  oldestOverdueSeconds: number | null;
}

export async function allAppMetrics(db: DB, now: number): Promise<AppMetrics[]> {
  const d1 = db.$client;
  const since = Math.floor(now / 60_000) - 1439;
  const [folded, live, tracked, day] = (await d1.batch([
    d1.prepare(METRICS_SQL.folded),
    d1.prepare(METRICS_SQL.live).bind(now, since),
    d1.prepare(METRICS_SQL.tracked).bind(now),
    d1.prepare(METRICS_SQL.day).bind(now, since),
  ])).map((r) => r.results as Row[]);
  return folded.map((f) => {
    const app = String(f.app_id);
    const mine = live.filter((r) => r.app_id === app);
    const sums = day.find((r) => r.app_id === app) ?? {};
    const num = (v: unknown) => Number(v ?? 0);
    const overdue = [...mine.map((r) => r.overdue), tracked.find((r) => r.app_id === app)?.overdue].filter((v): v is number => typeof v === 'number');
    return {
      app,
      tasks: Object.fromEntries(TASK_STATUSES.map((s) => [s, num(f[s]) + num(mine.find((r) => r.status === s)?.n)])) as Record<TaskStatus, number>,
      lastDay: {
        enqueued: num(sums.enqueued) + mine.reduce((n, r) => n + num(r.day), 0),
        attempts: num(sums.attempts),
        completed: num(sums.completed),
        failed: num(sums.failed),
      },
      oldestOverdueSeconds: overdue.length ? Math.max(0, Math.round((now - Math.min(...overdue)) / 1000)) : null,
    };
  });
}
