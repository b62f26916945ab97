import { CLOCK_MARGIN_MS, replayTasks as replayIn, START_WINDOW_MS } from '../store/claim';
import { allAppMetrics, type AppMetrics } from '../store/metrics';
import type { TaskStatus } from '../store/schema';
import type { Shard, Shards } from '../store/shards';
import { appStats as statsIn, minuteSeries as seriesIn, type AppStats, type Throughput } from '../store/stats';
import * as one from '../store/tasks';
import { TASK_STATUSES } from '../store/schema';

// What an app asks of all its tasks, wherever they live. A task by id goes to the one database its
// id names; a read over an app asks every database and merges. Per-request D1 budgets (1,000
// queries) are shared out among the databases, so a bulk call's reach per database shrinks as
// databases are added, and it says so through its cursor.

/** A task of the app by id; undefined if there is none (or the id names no database of ours). */
export function getTask(shards: Shards, appId: string, id: string) {
  const shard = shards.of(id);
  return shard ? one.getTask(shard.db, appId, id) : Promise.resolve(undefined);
}

/** The same, with the task's body (GET /tasks/{id}?include=body). */
export function getTaskWithBody(shards: Shards, appId: string, id: string) {
  const shard = shards.of(id);
  return shard ? one.getTaskWithBody(shard.db, appId, id) : Promise.resolve(undefined);
}

export function listAttempts(shards: Shards, id: string) {
  return one.listAttempts(shards.of(id)!.db, id);
}

/**
 * A deleted task is never called after the deletion answers. A task claimed moments ago may still
 * be about to start (a claim covers tasks starting within START_WINDOW_MS, and the consumer does
 * not read each row again before its start: that would cost a D1 query per attempt), so a deletion
 * that removed one answers only once that window has passed: by then its attempt has started or
 * never will.
 */
async function settle(lastClaim: number | null) {
  if (lastClaim == null) return;
  const wait = lastClaim + START_WINDOW_MS + CLOCK_MARGIN_MS - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

export async function deleteTask(shards: Shards, appId: string, id: string): Promise<boolean> {
  const shard = shards.of(id);
  if (!shard) return false;
  const { deleted, lastClaim } = await one.deleteTask(shard.db, appId, id);
  await settle(lastClaim);
  return deleted > 0;
}

/**
 * Merges pages that each database walked from the same cursor: every task is listed exactly once.
 * A database that stopped early (a full page, or its walk's row budget) may still hold tasks
 * below where it stopped, so the merged page ends at the highest such stop, and goes on from there.
 */
export function mergePages<T extends { id: string }>(pages: { items: T[]; next: string | null }[], limit: number) {
  const stops = pages.flatMap((p) => (p.next ? [p.next] : []));
  const floor = stops.length ? stops.reduce((a, b) => (a > b ? a : b)) : null;
  const items = pages.flatMap((p) => p.items).filter((t) => floor === null || t.id >= floor).sort((a, b) => (a.id < b.id ? 1 : -1));
  if (items.length > limit) return { items: items.slice(0, limit), next: items[limit - 1].id };
  return { items, next: floor };
}

export async function listTasks(shards: Shards, appId: string, opts: { status?: TaskStatus; scheduleId?: string; before?: string; limit: number }) {
  const pages = await Promise.all(shards.all.map(async (s) => {
    const { tasks, next } = await one.listTasks(s.db, appId, opts);
    return { items: tasks, next };
  }));
  const { items, next } = mergePages(pages, opts.limit);
  return { tasks: items, next };
}

/**
 * Runs a bulk walk in every database from the same cursor. Each did its share from there; the
 * call goes on from the highest place any database stopped (those that got further walk a range
 * where nothing matches any more: deleted or replayed tasks no longer have the status asked for).
 */
async function everywhere<R>(shards: Shards, walk: (s: Shard, share: number) => Promise<R & { next: string | null }>) {
  const share = 1 / shards.all.length;
  const results = await Promise.all(shards.all.map((s) => walk(s, share)));
  const stops = results.flatMap((r) => (r.next ? [r.next] : []));
  return { results, next: stops.length ? stops.reduce((a, b) => (a > b ? a : b)) : null };
}

export async function deleteTasks(shards: Shards, appId: string, opts: { status?: TaskStatus; before?: string }) {
  const { results, next } = await everywhere(shards, (s, share) => one.deleteTasks(s.db, appId, opts, share));
  const claims = results.flatMap((r) => (r.lastClaim == null ? [] : [r.lastClaim]));
  await settle(claims.length ? Math.max(...claims) : null);
  return { total: results.reduce((n, r) => n + r.total, 0), next };
}

export async function replayTasks(shards: Shards, appId: string, status: Exclude<TaskStatus, 'in_progress'>, now: number, graceMs: number, before?: string) {
  const { results, next } = await everywhere(shards, (s, share) => replayIn(s.db, appId, status, now, graceMs, before, share));
  return { replayed: results.flatMap((r) => r.replayed), next };
}

const addThroughput = (a: Throughput, b: Throughput): Throughput => ({
  enqueued: a.enqueued + b.enqueued, attempts: a.attempts + b.attempts, completed: a.completed + b.completed, failed: a.failed + b.failed,
});

/** An app's stats: counts and throughput summed over the databases, the oldest overdue age the max. */
export async function appStats(shards: Shards, appId: string, now: number): Promise<AppStats> {
  const each = await Promise.all(shards.all.map((s) => statsIn(s.db, appId, now)));
  return each.reduce((a, b) => ({
    tasks: Object.fromEntries(TASK_STATUSES.map((k) => [k, a.tasks[k] + b.tasks[k]])) as AppStats['tasks'],
    throughput: {
      last_minute: addThroughput(a.throughput.last_minute, b.throughput.last_minute),
      last_hour: addThroughput(a.throughput.last_hour, b.throughput.last_hour),
      last_day: addThroughput(a.throughput.last_day, b.throughput.last_day),
    },
    oldest_overdue_seconds: a.oldest_overdue_seconds === null ? b.oldest_overdue_seconds
      : b.oldest_overdue_seconds === null ? a.oldest_overdue_seconds : Math.max(a.oldest_overdue_seconds, b.oldest_overdue_seconds),
  }));
}

/** Per-minute rollups of an app, summed over the databases. */
export async function minuteSeries(shards: Shards, appId: string, sinceMinute: number) {
  const byMinute = new Map<number, { minute: number } & Throughput>();
  for (const rows of await Promise.all(shards.all.map((s) => seriesIn(s.db, appId, sinceMinute)))) {
    for (const r of rows) {
      const had = byMinute.get(r.minute);
      byMinute.set(r.minute, had ? { minute: r.minute, ...addThroughput(had, r) } : { ...r });
    }
  }
  return [...byMinute.values()].sort((a, b) => a.minute - b.minute);
}

/** Every app's metrics, summed over the databases (an app appears once it has a counter row anywhere). */
export async function metrics(shards: Shards, now: number): Promise<AppMetrics[]> {
  const byApp = new Map<string, AppMetrics>();
  for (const list of await Promise.all(shards.all.map((s) => allAppMetrics(s.db, now)))) {
    for (const m of list) {
      const had = byApp.get(m.app);
      byApp.set(m.app, !had ? m : {
        app: m.app,
        tasks: Object.fromEntries(TASK_STATUSES.map((k) => [k, had.tasks[k] + m.tasks[k]])) as AppMetrics['tasks'],
        lastDay: addThroughput(had.lastDay, m.lastDay),
        total: addThroughput(had.total, m.total),
        oldestOverdueSeconds: had.oldestOverdueSeconds === null ? m.oldestOverdueSeconds
          : m.oldestOverdueSeconds === null ? had.oldestOverdueSeconds : Math.max(had.oldestOverdueSeconds, m.oldestOverdueSeconds),
      });
    }
  }
  return [...byApp.values()];
}
