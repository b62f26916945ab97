import { and, desc, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { DB } from './index';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { attempts, tasks, type TaskRow, type TaskStatus } from './schema';

/**
 * `column IN (values)` with the values as ONE JSON parameter: D1 binds at most 100 parameters per
 * statement, and a consumer batch or a page can hold 100 ids on its own.
 */
export const inJson = (column: SQLiteColumn, values: string[]) =>
  inArray(column, sql`(SELECT value FROM json_each(${JSON.stringify(values)}))`);

export async function getTask(db: DB, appId: string, id: string): Promise<TaskRow | undefined> {
  return db.query.tasks.findFirst({ where: and(eq(tasks.id, id), eq(tasks.appId, appId)) });
}

export async function deleteTask(db: DB, appId: string, id: string): Promise<boolean> {
  const gone = await db
    .delete(tasks)
    .where(and(eq(tasks.id, id), eq(tasks.appId, appId)))
    .returning({ id: tasks.id });
  return gone.length > 0;
}

const DELETE_CHUNK = 500;
// One request may run 1,000 D1 queries; 100 chunks (50,000 tasks) leave ample room and time.
export const DELETE_MAX = 100 * DELETE_CHUNK;

/**
 * Deletes up to DELETE_MAX of an app's tasks (optionally one status) in index-ordered chunks;
 * returns how many. A caller with more calls again while it gets DELETE_MAX back.
 */
export async function deleteTasks(db: DB, appId: string, status?: TaskStatus): Promise<number> {
  let total = 0;
  while (total < DELETE_MAX) {
    const where = status ? and(eq(tasks.appId, appId), eq(tasks.status, status)) : eq(tasks.appId, appId);
    const chunk = db.select({ id: tasks.id }).from(tasks).where(where).limit(DELETE_CHUNK);
    const gone = await db.delete(tasks).where(inArray(tasks.id, chunk)).returning({ id: tasks.id });
    total += gone.length;
    if (gone.length < DELETE_CHUNK) break;
  }
  return total;
}

/**
 * Claims due tasks among `ids` in one statement, at the moment their attempts start: only
 * pending/retry tasks that are due (and whose timeout fits in `budgetMs`) move to in_progress, so
 * duplicate, stale and early messages, and deleted tasks, claim nothing. A claimed task starts at
 * once, so its lease (due_at) is its own timeout plus `graceMs`: if the worker dies, the sweeper
 * retries it minutes later, not after a whole invocation's budget.
 */
export async function claimTasks(db: DB, ids: string[], now: number, graceMs: number, budgetMs = Infinity): Promise<TaskRow[]> {
  return ids.length === 0 ? [] : claimQuery(db, ids, now, graceMs, budgetMs);
}

export function claimQuery(db: DB, ids: string[], now: number, graceMs: number, budgetMs = Infinity) {
  const fits = Number.isFinite(budgetMs) ? sql` AND +${tasks.timeout} * 1000 <= ${budgetMs}` : sql``;
  return db
    .update(tasks)
    .set({
      status: 'in_progress',
      attempts: sql`${tasks.attempts} + 1`,
      dueAt: sql`${now + graceMs} + ${tasks.timeout} * 1000`,
      updatedAt: now,
    })
    // `+column` stops SQLite from choosing the (status, due_at) index, which would walk the
    // whole due backlog; the ids are looked up by primary key instead.
    .where(
      and(
        inJson(tasks.id, ids),
        sql`+${tasks.status} IN ('pending', 'retry')`,
        sql`+${tasks.dueAt} <= ${now}${fits}`,
      ),
    )
    .returning();
}

/** Status and due time of tasks, for deciding what to do with messages that claimed nothing. */
export async function peekTasks(db: DB, ids: string[]) {
  if (ids.length === 0) return [];
  return db
    .select({ id: tasks.id, status: tasks.status, dueAt: tasks.dueAt })
    .from(tasks)
    .where(inJson(tasks.id, ids));
}

export async function listAttempts(db: DB, taskId: string) {
  return db.select().from(attempts).where(eq(attempts.taskId, taskId)).orderBy(attempts.number);
}

const STATUSES = ['pending', 'in_progress', 'retry', 'completed', 'failed'] as const;

/** ?1 app, ?2 cursor, ?3 limit, ?4.. one status per index range. */
export function listSql(ranges: number): string {
  const union = Array.from(
    { length: ranges },
    (_, i) => `SELECT * FROM (SELECT id FROM tasks WHERE app_id = ?1 AND status = ?${i + 4} AND id < ?2 ORDER BY id DESC LIMIT ?3)`,
  ).join(' UNION ALL ');
  return `SELECT id FROM (${union}) ORDER BY id DESC LIMIT ?3`;
}
// Everything but the body (up to MAX_BODY_BYTES each): listings never need it.
const { body: _body, ...listed } = getTableColumns(tasks);

/**
 * An app's tasks, newest first, before the cursor id. Without a status this is a UNION of one
 * (app_id, status, id) index range per status, each at most `limit` rows, so it never scans the
 * app's tasks and needs no second index on (app_id, id) (which every insert would pay for).
 */
export async function listTasks(db: DB, appId: string, opts: { status?: TaskStatus; before?: string; limit: number }) {
  const before = opts.before ?? '~'; // sorts after every id
  const statuses = opts.status ? [opts.status] : STATUSES;
  const { results } = await db.$client
    .prepare(listSql(statuses.length))
    .bind(appId, before, opts.limit, ...statuses)
    .all<{ id: string }>();
  if (results.length === 0) return [];
  return db
    .select(listed)
    .from(tasks)
    .where(inJson(tasks.id, results.map((r) => r.id)))
    .orderBy(desc(tasks.id));
}

const REPLAY_SET = `
  status = CASE WHEN attempts = 0 THEN 'pending' ELSE 'retry' END,
  retry_base = CASE WHEN status IN ('completed', 'failed') THEN attempts ELSE retry_base END,
  due_at = ?1, updated_at = ?1, completed_at = NULL`;

/**
 * Makes a task due now (any status but in_progress). A finished task gets a fresh retry budget.
 * Returns the task, 'busy' when it is in progress, or undefined when there is no such task.
 */
export async function replayTask(db: DB, appId: string, id: string, now: number): Promise<TaskRow | 'busy' | undefined> {
  const replayed = await db.$client
    .prepare(`UPDATE tasks SET ${REPLAY_SET} WHERE id = ?2 AND app_id = ?3 AND status <> 'in_progress' RETURNING id`)
    .bind(now, id, appId)
    .first();
  const task = await getTask(db, appId, id);
  return task && !replayed ? 'busy' : task;
}

export const REPLAY_CHUNK = 500;
export const REPLAY_MANY_SQL = `UPDATE tasks SET ${REPLAY_SET}
  WHERE id IN (SELECT id FROM tasks WHERE app_id = ?2 AND status = ?3
                 AND (status IN ('completed', 'failed') OR due_at > ?1) LIMIT ${REPLAY_CHUNK})
  RETURNING id, due_at AS dueAt`;

/** Replays up to REPLAY_CHUNK of an app's tasks with one status; waiting ones only if not yet due. */
export async function replayTasks(db: DB, appId: string, status: Exclude<TaskStatus, 'in_progress'>, now: number) {
  const { results } = await db.$client
    .prepare(REPLAY_MANY_SQL)
    .bind(now, appId, status)
    .all<{ id: string; dueAt: number }>();
  return results;
}
