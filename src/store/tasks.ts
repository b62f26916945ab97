import { and, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { countDelta, enqueuedByMinute, uncounted } from './counts';
import { asFields, jsonRows } from './json-rows';
import type { DB } from '.';
import { attempts, tasks, type TaskRow, type TaskStatus } from './schema';

/**
 * `column IN (values)` with the values as ONE JSON parameter: D1 binds at most 100 parameters per
 * statement, and a page or an id list can hold 100 values on its own.
 */
export const inJson = (column: SQLiteColumn, values: string[]) =>
  inArray(column, sql`(SELECT value FROM json_each(${JSON.stringify(values)}))`);

export type TaskKey = { appId: string; id: string };
/** Tasks by key, many in one parameter: `KEYS.from('?1') AS k` has columns k.appId, k.id. */
export const KEYS = jsonRows({ appId: 'text', id: 'text' });
/** A task to (re)send: its key and when it is due. */
export type Due = TaskKey & { dueAt: number };
/** SQL: the columns a `Due` is read from, of tasks or its alias `t` (what statements that make tasks due return). */
export function DUE_COLUMNS(t?: string) {
  const q = t ? `${t}.` : '';
  return `${q}app_id AS appId, ${q}id, ${q}due_at AS dueAt`;
}

// Everything but the body (up to MAX_BODY_BYTES each): inspection and listings never need it.
const { body: _body, ...listed } = getTableColumns(tasks);
export type ListedTask = Omit<TaskRow, 'body'>;
const fields = asFields(tasks);
/** A row read with raw SQL (snake_case columns) as drizzle would return it. */
export const toTask = (row: Record<string, unknown>) => fields(row) as unknown as TaskRow;

export async function getTask(db: DB, appId: string, id: string): Promise<ListedTask | undefined> {
  const [row] = await db.select(listed).from(tasks).where(and(eq(tasks.appId, appId), eq(tasks.id, id)));
  return row;
}

/** A task with its body (for showing its payload; listings never read bodies). */
export async function getTaskWithBody(db: DB, appId: string, id: string): Promise<TaskRow | undefined> {
  const [row] = await db.select().from(tasks).where(and(eq(tasks.appId, appId), eq(tasks.id, id)));
  return row;
}

/** Deleting tasks (rows t): their counts, their enqueue if never folded, their attempt logs, them. */
export function deletion(rows: string) {
  return {
    // A task never walked was never counted as enqueued: it is, as it goes.
    enqueued: enqueuedByMinute(`${rows} AND ${uncounted('t')}`),
    counts: countDelta(`SELECT t.app_id, t.id, t.status AS old, NULL AS new ${rows}`),
    attempts: `DELETE FROM attempts WHERE task_id IN (SELECT t.id ${rows} AND t.attempts > 1)`,
    // A claimed task's claim time comes back: its attempt may still be about to start (START_WINDOW_MS).
    tasks: `DELETE FROM tasks WHERE (app_id, id) IN (SELECT t.app_id, t.id ${rows})
      RETURNING id, CASE WHEN status = 'in_progress' THEN updated_at END AS claimed_at`,
  };
}
// ?1 keys, ?2 a status the tasks must have to go (NULL: any). The status is checked by the
// deleting statements themselves, so a task that changed status since the caller looked (a DLQ
// message replayed meanwhile) is not deleted.
export const DELETE_SQL = deletion(`FROM ${KEYS.from('?1')} AS k JOIN tasks AS t ON t.app_id = k.appId AND t.id = k.id WHERE (?2 IS NULL OR t.status = ?2)`);

/** What a deletion removed: how many tasks, and the latest claim among them (null if none was claimed). */
export type Deleted = { deleted: number; lastClaim: number | null };

/** Deletes tasks by key (only those in `status`, if given) with their attempt logs, moving the counters in the same transaction. */
export async function deleteByKeys(db: DB, keys: TaskKey[], status: TaskStatus | null = null): Promise<Deleted> {
  if (keys.length === 0) return { deleted: 0, lastClaim: null };
  const d1 = db.$client;
  const json = KEYS.encode(keys);
  const order = [DELETE_SQL.enqueued, DELETE_SQL.counts, DELETE_SQL.attempts, DELETE_SQL.tasks];
  const results = await d1.batch<{ claimed_at: number | null }>(order.map((sql) => d1.prepare(sql).bind(json, status)));
  const gone = results[3].results;
  const claims = gone.flatMap((r) => (r.claimed_at == null ? [] : [r.claimed_at]));
  return { deleted: gone.length, lastClaim: claims.length ? Math.max(...claims) : null };
}

export function deleteTask(db: DB, appId: string, id: string): Promise<Deleted> {
  return deleteByKeys(db, [{ appId, id }]);
}

// At most this many of an app's tasks are read per step of a walk filtered by status.
export const WALK = 500;
export const DELETE_MAX = 100 * WALK;

/**
 * Ids of an app's tasks before `before`, newest first, `limit` at most, optionally of one status:
 * a walk down the app's own range of the table (clustered on app_id, id), bounded by WALK rows.
 * `next` is where the walk stopped (null at the end), so a caller with few matches walks on.
 */
export async function walkTasks(db: DB, appId: string, opts: { status?: TaskStatus; scheduleId?: string; before?: string; limit: number }) {
  const { results } = await db.$client
    .prepare(`SELECT id, status, schedule_id FROM tasks WHERE app_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ${WALK}`)
    .bind(appId, opts.before ?? '~')
    .all<{ id: string; status: TaskStatus; schedule_id: string | null }>();
  const ids: string[] = [];
  let next: string | null = null;
  for (const r of results) {
    if (opts.status && r.status !== opts.status) continue;
    if (opts.scheduleId && r.schedule_id !== opts.scheduleId) continue;
    ids.push(r.id);
    if (ids.length === opts.limit) break;
  }
  if (ids.length === opts.limit) next = ids[ids.length - 1];
  else if (results.length === WALK) next = results[results.length - 1].id;
  return { ids, next };
}

/**
 * Walks an app's tasks (optionally of one status) from `before` in steps of WALK rows, handing each
 * step's matches to `act`, for at most `steps` steps or until `max` matches. Returns how many were
 * acted on and where to go on from (null when the walk reached the end): a status that is sparse
 * among many tasks takes several calls, each continuing where the last one stopped.
 */
export async function walkAll(db: DB, appId: string, opts: { status?: TaskStatus; before?: string; max: number; steps: number }, act: (ids: string[]) => Promise<number>) {
  let total = 0;
  let before = opts.before;
  for (let step = 0; step < opts.steps && total < opts.max; step++) {
    const { ids, next } = await walkTasks(db, appId, { status: opts.status, before, limit: Math.min(WALK, opts.max - total) });
    total += ids.length ? await act(ids) : 0;
    if (!next) return { total, next: null };
    before = next;
  }
  return { total, next: before ?? null };
}

/**
 * Deletes up to DELETE_MAX of an app's tasks (optionally one status), from `before` on; `share` of
 * that when the request's D1 budget is shared with other databases.
 */
export async function deleteTasks(db: DB, appId: string, opts: { status?: TaskStatus; before?: string }, share = 1) {
  // 100 steps of a walk and a 4-statement delete: 500 queries, half a request's 1,000.
  const steps = Math.max(1, Math.floor(100 * share));
  let lastClaim: number | null = null;
  const walked = await walkAll(db, appId, { ...opts, max: steps * WALK, steps }, async (ids) => {
    // The status is checked again as they go: a task replayed since the walk read it stays.
    const d = await deleteByKeys(db, ids.map((id) => ({ appId, id })), opts.status ?? null);
    if (d.lastClaim != null) lastClaim = Math.max(lastClaim ?? 0, d.lastClaim);
    return d.deleted;
  });
  return { ...walked, lastClaim };
}

/** A page of an app's tasks, newest first (see walkTasks for `next`). */
export async function listTasks(db: DB, appId: string, opts: { status?: TaskStatus; scheduleId?: string; before?: string; limit: number }) {
  const { ids, next } = await walkTasks(db, appId, opts);
  if (ids.length === 0) return { tasks: [] as ListedTask[], next };
  const rows = await db.select(listed).from(tasks).where(and(eq(tasks.appId, appId), inJson(tasks.id, ids)));
  const byId = new Map(rows.map((r) => [r.id, r]));
  return { tasks: ids.flatMap((id) => byId.get(id) ?? []), next };
}

export async function listAttempts(db: DB, taskId: string) {
  return db.select().from(attempts).where(eq(attempts.taskId, taskId)).orderBy(attempts.number);
}

/** Status and due time of tasks, for deciding what to do with messages that claimed nothing. */
export async function peekTasks(db: DB, keys: TaskKey[]) {
  if (keys.length === 0) return [];
  const { results } = await db.$client
    .prepare(`SELECT ${DUE_COLUMNS('t')}, t.status FROM ${KEYS.from('?1')} AS k JOIN tasks AS t ON t.app_id = k.appId AND t.id = k.id`)
    .bind(KEYS.encode(keys))
    .all<Due & { status: TaskStatus }>();
  return results;
}
