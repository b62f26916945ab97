import { replayTasks as replayIn } from '../store/claim';
import { deleteAnswersAt } from '../start-window';
import type { TaskStatus } from '../store/schema';
import type { Shard, Shards } from '../store/shards';
import { countApps, mergeCounts, minuteSeries as seriesIn, noCounts, type AppCounts, type Throughput } from '../store/stats';
import * as taskStore from '../store/tasks'; // one database's statements

/** The statuses a replay takes (a task in progress is replayed once its attempt ends). */
export type Replayable = Exclude<TaskStatus, 'in_progress'>;

// What an app asks of all its tasks, wherever they live. A task by id goes to the one database its
// id names; a read over an app asks every database and merges. Per-request D1 budgets (1,000
// queries) are shared out among the databases, so a bulk call's reach per database shrinks as
// databases are added, and it says so through its cursor.

/** A task of the app by id; undefined if there is none (or the id names no database of ours). */
export function getTask(shards: Shards, appId: string, id: string) {
  const shard = shards.of(id);
  return shard ? taskStore.getTask(shard.db, appId, id) : Promise.resolve(undefined);
}

/** The same, with the task's body (GET /tasks/{id}?include=body). */
export function getTaskWithBody(shards: Shards, appId: string, id: string) {
  const shard = shards.of(id);
  return shard ? taskStore.getTaskWithBody(shard.db, appId, id) : Promise.resolve(undefined);
}

export function listAttempts(shards: Shards, id: string) {
  return taskStore.listAttempts(shards.of(id)!.db, id);
}

/**
 * A deleted task is never called after the deletion answers. A task claimed moments ago may still
 * be about to start, so a deletion that removed one answers only once its start window has passed
 * (the timing contract in ../start-window.ts): by then its attempt has started or never will.
 */
async function settle(lastClaim: number | null) {
  const at = deleteAnswersAt(lastClaim);
  const wait = at == null ? 0 : at - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

export async function deleteTask(shards: Shards, appId: string, id: string, status: TaskStatus | null = null): Promise<boolean> {
  return (await deleteTasksByIds(shards, appId, [id], status)) > 0;
}

/** The app's task keys for these ids, by the database each id names (ids naming none are left out). */
export function keysByShard(shards: Shards, appId: string, ids: Iterable<string>): Map<Shard, taskStore.TaskKey[]> {
  const byShard = new Map<Shard, taskStore.TaskKey[]>();
  for (const id of new Set(ids)) {
    const shard = shards.of(id);
    if (shard) byShard.set(shard, [...(byShard.get(shard) ?? []), { appId, id }]);
  }
  return byShard;
}

/** The statuses of these tasks of the app, one read per database holding any; a deleted task is absent. */
export async function taskStatuses(shards: Shards, appId: string, ids: string[]): Promise<Map<string, TaskStatus>> {
  const found = await Promise.all([...keysByShard(shards, appId, ids)].map(([shard, keys]) => taskStore.peekTasks(shard.db, keys)));
  return new Map(found.flat().map((t) => [t.id, t.status]));
}

/**
 * Deletes the app's tasks with these ids (only those in `status`, checked as they are deleted, if
 * given): one transaction per database that holds any; how many went.
 */
export async function deleteTasksByIds(shards: Shards, appId: string, ids: string[], status: TaskStatus | null = null): Promise<number> {
  const done = await Promise.all([...keysByShard(shards, appId, ids)].map(([shard, keys]) => taskStore.deleteByKeys(shard.db, keys, status)));
  const claims = done.flatMap((d) => (d.lastClaim == null ? [] : [d.lastClaim]));
  await settle(claims.length ? Math.max(...claims) : null);
  return done.reduce((n, d) => n + d.deleted, 0);
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
    const { tasks, next } = await taskStore.listTasks(s.db, appId, opts);
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
  const { results, next } = await everywhere(shards, (s, share) => taskStore.deleteTasks(s.db, appId, opts, share));
  const claims = results.flatMap((r) => (r.lastClaim == null ? [] : [r.lastClaim]));
  await settle(claims.length ? Math.max(...claims) : null);
  return { total: results.reduce((n, r) => n + r.total, 0), next };
}

/** Replays a stretch of the app's tasks of one status in every database (tasks/replay.ts nudges them). */
export async function replayTasks(shards: Shards, appId: string, o: { status: Replayable; now: number; graceMs: number; before?: string }) {
  const { results, next } = await everywhere(shards, (s, share) => replayIn(s.db, appId, o.status, o.now, o.graceMs, o.before, share));
  return { replayed: results.flatMap((r) => r.replayed), next };
}

/** Every app's counts (`app` null) or one app's, summed over the databases. */
async function countsAcross(shards: Shards, app: string | null, now: number): Promise<AppCounts[]> {
  const byApp = new Map<string, AppCounts>();
  for (const list of await Promise.all(shards.all.map((s) => countApps(s.db, app, now)))) {
    for (const m of list) {
      const had = byApp.get(m.app);
      byApp.set(m.app, had ? mergeCounts(had, m) : m);
    }
  }
  return [...byApp.values()];
}

export interface AppStats {
  tasks: AppCounts['tasks'];
  throughput: { last_minute: Throughput; last_hour: Throughput; last_day: Throughput };
  oldest_overdue_seconds: number | null;
}

/** An app's stats (GET /stats, the dashboard). */
export async function appStats(shards: Shards, appId: string, now: number): Promise<AppStats> {
  const c = (await countsAcross(shards, appId, now))[0] ?? noCounts(appId);
  return {
    tasks: c.tasks,
    throughput: { last_minute: c.window.minute, last_hour: c.window.hour, last_day: c.window.day },
    oldest_overdue_seconds: overdueSeconds(c, now),
  };
}

/** How long the app's most overdue waiting task has been due, in whole seconds; null when none is. */
export const overdueSeconds = (c: AppCounts, now: number) => (c.overdueSince === null ? null : Math.max(0, Math.round((now - c.overdueSince) / 1000)));

/** Every app's counts, summed over the databases (an app appears once it has a counter row anywhere). */
export const metrics = (shards: Shards, now: number) => countsAcross(shards, null, now);

/** Per-minute rollups of an app, summed over the databases. */
export async function minuteSeries(shards: Shards, appId: string, sinceMinute: number) {
  const byMinute = new Map<number, { minute: number } & Throughput>();
  for (const rows of await Promise.all(shards.all.map((s) => seriesIn(s.db, appId, sinceMinute)))) {
    for (const r of rows) {
      const had = byMinute.get(r.minute);
      byMinute.set(r.minute, had ? { minute: r.minute, enqueued: had.enqueued + r.enqueued, attempts: had.attempts + r.attempts, completed: had.completed + r.completed, failed: had.failed + r.failed } : { ...r });
    }
  }
  return [...byMinute.values()].sort((a, b) => a.minute - b.minute);
}

