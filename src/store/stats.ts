import type { DB } from '.';
import { TASK_STATUSES, type TaskStatus } from './schema';

export type Throughput = { enqueued: number; attempts: number; completed: number; failed: number };

// ?1 app, ?2 now, ?3 .. ?5 the first minute of the last minute, hour and day.
// Everything is read in one D1 batch (one transaction), so counters, the live count of tasks not
// yet folded into them, and throughput all describe the same moment. Nothing here walks the
// tasks table: the folded counters are one row, the live part is the app's ids made since the
// last fold (a few minutes of enqueues), and the oldest overdue task is the first entry of an
// index range (tasks the sweeper tracks) or in that same live range.
const LIVE = `FROM tasks WHERE app_id = ?1 AND id > (SELECT folded_to FROM app_stats WHERE app_id = ?1)`;
export const STATS_SQL = {
  folded: `SELECT pending, in_progress, retry, completed, failed FROM app_stats WHERE app_id = ?1`,
  live: `SELECT status, count(*) AS n, sum(created_at >= ?3 * 60000) AS m, sum(created_at >= ?4 * 60000) AS h,
      sum(created_at >= ?5 * 60000) AS d, min(CASE WHEN status IN ('pending', 'retry') AND due_at <= ?2 THEN due_at END) AS overdue
    ${LIVE} GROUP BY status`,
  tracked: `SELECT min(due_at) AS overdue FROM tasks WHERE app_id = ?1 AND due_at <= ?2
    AND wake_at IS NOT NULL AND status IN ('pending', 'retry')`,
  throughput: `SELECT
      coalesce(sum(CASE WHEN minute >= ?3 THEN enqueued END), 0) AS me, coalesce(sum(CASE WHEN minute >= ?3 THEN attempts END), 0) AS ma,
      coalesce(sum(CASE WHEN minute >= ?3 THEN completed END), 0) AS mc, coalesce(sum(CASE WHEN minute >= ?3 THEN failed END), 0) AS mf,
      coalesce(sum(CASE WHEN minute >= ?4 THEN enqueued END), 0) AS he, coalesce(sum(CASE WHEN minute >= ?4 THEN attempts END), 0) AS ha,
      coalesce(sum(CASE WHEN minute >= ?4 THEN completed END), 0) AS hc, coalesce(sum(CASE WHEN minute >= ?4 THEN failed END), 0) AS hf,
      coalesce(sum(enqueued), 0) AS de, coalesce(sum(attempts), 0) AS da, coalesce(sum(completed), 0) AS dc, coalesce(sum(failed), 0) AS df
    FROM stats_minutes WHERE app_id = ?1 AND minute >= ?5`,
};

export interface AppStats {
  tasks: Record<TaskStatus, number>;
  throughput: { last_minute: Throughput; last_hour: Throughput; last_day: Throughput };
  oldest_overdue_seconds: number | null;
}

type Live = { status: TaskStatus; n: number; m: number; h: number; d: number; overdue: number | null };
type Sums = Record<'me' | 'ma' | 'mc' | 'mf' | 'he' | 'ha' | 'hc' | 'hf' | 'de' | 'da' | 'dc' | 'df', number>;

/** Counts by status, throughput over the last minute, hour and day, and the oldest overdue age. */
export async function appStats(db: DB, appId: string, now: number): Promise<AppStats> {
  const minute = Math.floor(now / 60_000);
  const d1 = db.$client;
  const args = [appId, now, minute, minute - 59, minute - 1439];
  const [folded, live, tracked, sums] = await d1.batch([
    d1.prepare(STATS_SQL.folded).bind(appId),
    d1.prepare(STATS_SQL.live).bind(...args),
    d1.prepare(STATS_SQL.tracked).bind(appId, now),
    d1.prepare(STATS_SQL.throughput).bind(appId, now, minute, minute - 59, minute - 1439),
  ]);
  const base = (folded.results[0] ?? {}) as Partial<Record<TaskStatus, number>>;
  const rows = live.results as Live[];
  const tasks = Object.fromEntries(TASK_STATUSES.map((s) => [s, (base[s] ?? 0) + (rows.find((r) => r.status === s)?.n ?? 0)])) as Record<TaskStatus, number>;
  const made = (k: 'm' | 'h' | 'd') => rows.reduce((n, r) => n + (r[k] ?? 0), 0);
  const s = sums.results[0] as Sums;
  const window = (p: 'm' | 'h' | 'd'): Throughput => ({
    enqueued: s[`${p}e`] + made(p), attempts: s[`${p}a`], completed: s[`${p}c`], failed: s[`${p}f`],
  });
  const overdue = [...rows.map((r) => r.overdue), (tracked.results[0] as { overdue: number | null } | undefined)?.overdue].filter((v): v is number => v != null);
  return {
    tasks,
    throughput: { last_minute: window('m'), last_hour: window('h'), last_day: window('d') },
    oldest_overdue_seconds: overdue.length ? Math.max(0, Math.round((now - Math.min(...overdue)) / 1000)) : null,
  };
}

/** Per-minute rollups since `sinceMinute`, oldest first (the dashboard's chart). */
export async function minuteSeries(db: DB, appId: string, sinceMinute: number) {
  const { results } = await db.$client
    .prepare(`SELECT minute, enqueued, attempts, completed, failed FROM stats_minutes WHERE app_id = ?1 AND minute >= ?2 ORDER BY minute`)
    .bind(appId, sinceMinute)
    .all<{ minute: number; enqueued: number; attempts: number; completed: number; failed: number }>();
  return results;
}
