import type { DB } from '.';
import { TASK_STATUSES, type TaskStatus } from './schema';

// What an app's tasks add up to, for /stats, the dashboard and /metrics alike: one family of
// statements, scoped to one app or to every app, read in one D1 batch (one transaction) so that
// counters, the live count of tasks not yet folded into them, and throughput describe one moment.
// Nothing walks the tasks table: the folded counters are one row per app, the live part is each
// app's ids made since its last fold (a few minutes of enqueues), the oldest overdue task is the
// first entry of an index range (tasks the sweeper tracks) or in that same live range, and the
// minute rollups are read by (app, minute).

export type Throughput = { enqueued: number; attempts: number; completed: number; failed: number };
const KINDS = ['enqueued', 'attempts', 'completed', 'failed'] as const;
const WINDOWS = ['minute', 'hour', 'day'] as const;
type Window = (typeof WINDOWS)[number];

export interface AppCounts {
  app: string;
  tasks: Record<TaskStatus, number>;
  /** Over the last minute, hour and day (calendar minutes: the current one, the last 60, 1,440). */
  window: Record<Window, Throughput>;
  /** Since the app began: monotonic, for Prometheus counters. */
  total: Throughput;
  /** When the most overdue waiting task became due (ms); null when none is. */
  overdueSince: number | null;
}

// ?1 the app (NULL: every app), ?2 now, ?3 .. ?5 the first minute of the last minute, hour and day.
// Each statement is bound with the parameters up to the highest it uses (D1 counts them).
const scope = (one: boolean) => (one ? 's.app_id = ?1' : '?1 IS NULL');
const windowSums = WINDOWS.flatMap((w, i) => KINDS.map((k) => `coalesce(sum(CASE WHEN m.minute >= ?${i + 3} THEN m.${k} END), 0) AS ${w}_${k}`));
const STATEMENTS: { sql: (one: boolean) => string; params: number }[] = [
  {
    sql: (one) => `SELECT s.app_id, ${TASK_STATUSES.map((st) => `s.${st}`).join(', ')}, ${KINDS.map((k) => `s.${k}_total`).join(', ')}
      FROM app_stats AS s WHERE ${scope(one)}`,
    params: 1,
  },
  {
    // Tasks made since the fold: counted by status here, and as enqueued from their creation.
    sql: (one) => `SELECT s.app_id, t.status, count(*) AS n, ${WINDOWS.map((w, i) => `sum(t.created_at >= ?${i + 3} * 60000) AS ${w}`).join(', ')},
      min(CASE WHEN t.status IN ('pending', 'retry') AND t.due_at <= ?2 THEN t.due_at END) AS overdue
      FROM app_stats AS s CROSS JOIN tasks AS t ON t.app_id = s.app_id AND t.id > s.folded_to WHERE ${scope(one)} GROUP BY s.app_id, t.status`,
    params: 5,
  },
  {
    sql: (one) => `SELECT s.app_id, (SELECT min(due_at) FROM tasks WHERE app_id = s.app_id AND wake_at IS NOT NULL
      AND status IN ('pending', 'retry') AND due_at <= ?2) AS overdue FROM app_stats AS s WHERE ${scope(one)}`,
    params: 2,
  },
  {
    // Every minute still kept (at most two days, see pruneStats): the windows, and the kept part of the totals.
    sql: (one) => `SELECT s.app_id, ${windowSums.join(', ')}, ${KINDS.map((k) => `coalesce(sum(m.${k}), 0) AS kept_${k}`).join(', ')}
      FROM app_stats AS s CROSS JOIN stats_minutes AS m ON m.app_id = s.app_id WHERE ${scope(one)} GROUP BY s.app_id`,
    params: 5,
  },
];

type Row = Record<string, number | string | null>;
const num = (v: unknown) => Number(v ?? 0);
const throughput = (pick: (k: (typeof KINDS)[number]) => number): Throughput =>
  Object.fromEntries(KINDS.map((k) => [k, pick(k)])) as Throughput;

/** The counts of one app (`app`) or of every app with a counter row (`null`), in one database. */
export async function countApps(db: DB, app: string | null, now: number): Promise<AppCounts[]> {
  const minute = Math.floor(now / 60_000);
  const args = [app, now, minute, minute - 59, minute - 1439];
  const d1 = db.$client;
  const [folded, live, tracked, sums] = (await d1.batch(STATEMENTS.map((s) => d1.prepare(s.sql(app !== null)).bind(...args.slice(0, s.params)))))
    .map((r) => r.results as Row[]);
  return folded.map((f) => {
    const id = String(f.app_id);
    const mine = live.filter((r) => r.app_id === id);
    const s = sums.find((r) => r.app_id === id) ?? {};
    // Tasks not yet folded count as enqueued from their id range (the fold moves them into the
    // rollups in the same transaction, so the sums never double count nor drop).
    const made = (field: Window | 'n') => mine.reduce((n, r) => n + num(r[field]), 0);
    const overdue = [...mine.map((r) => r.overdue), tracked.find((r) => r.app_id === id)?.overdue].filter((v): v is number => typeof v === 'number');
    return {
      app: id,
      tasks: Object.fromEntries(TASK_STATUSES.map((st) => [st, num(f[st]) + num(mine.find((r) => r.status === st)?.n)])) as AppCounts['tasks'],
      window: Object.fromEntries(WINDOWS.map((w) => [w, throughput((k) => num(s[`${w}_${k}`]) + (k === 'enqueued' ? made(w) : 0))])) as AppCounts['window'],
      total: throughput((k) => num(f[`${k}_total`]) + num(s[`kept_${k}`]) + (k === 'enqueued' ? made('n') : 0)),
      overdueSince: overdue.length ? Math.min(...overdue) : null,
    };
  });
}

const add = (a: Throughput, b: Throughput) => throughput((k) => a[k] + b[k]);
const earliest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));

/** One app's counts from several databases: sums, and the earliest overdue task of them all. */
export function mergeCounts(a: AppCounts, b: AppCounts): AppCounts {
  return {
    app: a.app,
    tasks: Object.fromEntries(TASK_STATUSES.map((st) => [st, a.tasks[st] + b.tasks[st]])) as AppCounts['tasks'],
    window: Object.fromEntries(WINDOWS.map((w) => [w, add(a.window[w], b.window[w])])) as AppCounts['window'],
    total: add(a.total, b.total),
    overdueSince: earliest(a.overdueSince, b.overdueSince),
  };
}

/** Counts of an app that has none yet (no task anywhere). */
export const noCounts = (app: string): AppCounts => ({
  app,
  tasks: Object.fromEntries(TASK_STATUSES.map((st) => [st, 0])) as AppCounts['tasks'],
  window: Object.fromEntries(WINDOWS.map((w) => [w, throughput(() => 0)])) as AppCounts['window'],
  total: throughput(() => 0),
  overdueSince: null,
});

type Minute = { minute: number } & Throughput;
/**
 * Per-minute rollups since `sinceMinute`, oldest first (the dashboard's chart), with the tasks made
 * since the last fold counted as enqueued in their minute, as /stats counts them (the fold moves
 * them into the rollups in the same transaction that moves folded_to past them).
 */
export async function minuteSeries(db: DB, appId: string, sinceMinute: number): Promise<Minute[]> {
  const d1 = db.$client;
  const [rolled, live] = await d1.batch<Minute>([
    d1.prepare('SELECT minute, enqueued, attempts, completed, failed FROM stats_minutes WHERE app_id = ?1 AND minute >= ?2 ORDER BY minute').bind(appId, sinceMinute),
    d1.prepare(`SELECT t.created_at / 60000 AS minute, count(*) AS enqueued, 0 AS attempts, 0 AS completed, 0 AS failed
      FROM app_stats AS s CROSS JOIN tasks AS t ON t.app_id = s.app_id AND t.id > s.folded_to
      WHERE s.app_id = ?1 AND t.created_at >= ?2 * 60000 GROUP BY 1`).bind(appId, sinceMinute),
  ]);
  const byMinute = new Map(rolled.results.map((r) => [r.minute, { ...r }]));
  for (const r of live.results) {
    const had = byMinute.get(r.minute);
    if (had) had.enqueued += r.enqueued;
    else byMinute.set(r.minute, { ...r });
  }
  return [...byMinute.values()].sort((a, b) => a.minute - b.minute);
}
