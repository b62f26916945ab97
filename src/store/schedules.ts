import { and, asc, eq, getTableColumns, gt, sql } from 'drizzle-orm';
import type { DB } from '.';
import { columnFields, jsonRows, selectAs } from './json-rows';
import { schedules } from './schema';
import { DUE_COLUMNS, type Due } from './tasks';

export type ScheduleRow = typeof schedules.$inferSelect;
export type NewSchedule = typeof schedules.$inferInsert;

// The columns a schedule is written with (its last run is only ever written by a tick, or cleared).
const WRITTEN = columnFields(schedules).filter((c) => c.field !== 'lastRunAt' && c.field !== 'lastTaskId');

/**
 * Creates a schedule if its app has fewer than `max` (counted and inserted in one statement, so
 * concurrent creates cannot pass the limit together); undefined when the app is at its limit.
 */
export async function createSchedule(db: DB, row: NewSchedule, max: number): Promise<ScheduleRow | undefined> {
  const { names, values } = columnsOf(row);
  const { meta } = await db.$client.prepare(`INSERT INTO schedules (${names.join(', ')}) SELECT ${names.map((_, i) => `?${i + 2}`).join(', ')}
      WHERE (SELECT count(*) FROM schedules WHERE app_id = ?${names.indexOf('app_id') + 2}) < ?1`).bind(max, ...values).run();
  return meta.changes ? getSchedule(db, row.appId, row.id) : undefined;
}

function columnsOf(row: NewSchedule) {
  const names = WRITTEN.map((c) => c.name);
  const values = WRITTEN.map(({ field }) => {
    const v = row[field];
    return v === undefined ? null : typeof v === 'boolean' ? Number(v) : v;
  });
  return { names, values };
}

export async function getSchedule(db: DB, appId: string, id: string): Promise<ScheduleRow | undefined> {
  const [row] = await db.select().from(schedules).where(and(eq(schedules.appId, appId), eq(schedules.id, id)));
  return row;
}

/** A listed schedule: its body cut to what the listing asked for, `bodySize` the whole body's length. */
export type ListedSchedule = ScheduleRow & { bodySize: number | null };

/**
 * An app's schedules by id (creation order), `limit` at most, after `after`. A listing never reads
 * whole bodies (a page of 100 bodies of up to MAX_BODY_BYTES would not fit an isolate's memory):
 * each is cut to its first `bodyBytes` (none by default: `body` is null, `bodySize` says whether there is one).
 */
export async function listSchedules(db: DB, appId: string, limit: number, after?: string, bodyBytes = 0): Promise<ListedSchedule[]> {
  // No bytes asked: no body at all (NULL, not an empty one that would read as an empty body).
  const body = (bodyBytes > 0 ? sql`substr(${schedules.body}, 1, ${bodyBytes})` : sql`NULL`).mapWith(schedules.body);
  return db.select({ ...getTableColumns(schedules), body, bodySize: sql<number | null>`length(${schedules.body})` }).from(schedules)
    .where(after ? and(eq(schedules.appId, appId), gt(schedules.id, after)) : eq(schedules.appId, appId))
    .orderBy(asc(schedules.id)).limit(limit);
}

export async function deleteSchedule(db: DB, appId: string, id: string): Promise<boolean> {
  return (await db.delete(schedules).where(and(eq(schedules.appId, appId), eq(schedules.id, id))).returning({ id: schedules.id })).length > 0;
}

/** Pauses or resumes; a resumed schedule runs next at `nextRunAt` (missed runs are not made up). */
export async function setSchedulePaused(db: DB, appId: string, id: string, paused: boolean, nextRunAt: number | null, now: number) {
  const [row] = await db.update(schedules)
    .set({ paused, updatedAt: now, ...(nextRunAt !== null ? { nextRunAt } : {}) })
    .where(and(eq(schedules.appId, appId), eq(schedules.id, id))).returning();
  return row as ScheduleRow | undefined;
}

/** Changes a schedule (its template, cron or zone); undefined if there is none. */
export async function updateSchedule(db: DB, appId: string, id: string, set: Partial<NewSchedule>): Promise<ScheduleRow | undefined> {
  const [row] = await db.update(schedules).set(set).where(and(eq(schedules.appId, appId), eq(schedules.id, id))).returning();
  return row;
}

export const FIRE_CHUNK = 500;

/**
 * Up to `limit` schedules due by `now` (the schedules_due index: no walk over all schedules), in
 * turns: every app's oldest due schedule, then every app's second, and so on. An app with 10,000
 * due schedules gets no more of a tick than an app with one before that one has had its turn.
 */
export async function dueSchedules(db: DB, now: number, limit: number) {
  const { results } = await db.$client
    .prepare(`SELECT appId, id, cron, timezone, nextRunAt FROM (
        SELECT ${selectAs(schedules, { pick: ['appId', 'id', 'cron', 'timezone', 'nextRunAt'] })},
          row_number() OVER (PARTITION BY app_id ORDER BY next_run_at, id) AS turn
        FROM schedules WHERE paused = 0 AND next_run_at <= ?1)
      ORDER BY turn, nextRunAt LIMIT ?2`)
    .bind(now, limit)
    .all<Pick<ScheduleRow, 'appId' | 'id' | 'cron' | 'timezone' | 'nextRunAt'>>();
  return results;
}

// ?1 fires (each a schedule's due run: its task's id, the run due and the next), ?2 now.
// Both statements hold only while the schedule is still due at that run (not deleted, not
// paused, not moved on by a tick that ran first), and they commit together: a late, doubled or
// half-failed tick makes each run's task exactly once. (No idempotency key on the task: its
// index entry would be one more row written per run, for nothing the guard does not already do.)
const FIRE_ROWS = jsonRows({ appId: 'text', schedule: 'text', task: 'text', due: 'integer', next: 'integer' });
const FIRES = FIRE_ROWS.from('?1');
const FIRE_SQL = {
  task: `INSERT INTO tasks (app_id, id, url, method, headers, body, content_type, status, attempts, max_retries, retry_base,
      timeout, created_at, updated_at, due_at, wake_at, idempotency_key, flow_key, schedule_id)
    SELECT sc.app_id, f.task, sc.url, sc.method, sc.headers, sc.body, sc.content_type, 'pending', 0, sc.max_retries, 0,
      sc.timeout, ?2, ?2, ?2, NULL, NULL, sc.flow_key, sc.id
    FROM ${FIRES} AS f JOIN schedules AS sc ON sc.app_id = f.appId AND sc.id = f.schedule AND sc.next_run_at = f.due AND sc.paused = 0
    WHERE true ON CONFLICT DO NOTHING RETURNING ${DUE_COLUMNS()}`,
  move: `UPDATE schedules SET next_run_at = f.next, last_run_at = f.due, last_task_id = f.task, updated_at = ?2
    FROM ${FIRES} AS f WHERE schedules.app_id = f.appId AND schedules.id = f.schedule AND schedules.next_run_at = f.due AND schedules.paused = 0`,
};

export type Fire = { appId: string; schedule: string; task: string; due: number; next: number };

/** Makes each run's task and moves its schedule on, in one transaction; returns the tasks made. */
export async function fire(db: DB, fires: Fire[], now: number) {
  const d1 = db.$client;
  const json = FIRE_ROWS.encode(fires);
  const [made] = await d1.batch<Due>([d1.prepare(FIRE_SQL.task).bind(json, now), d1.prepare(FIRE_SQL.move).bind(json, now)]);
  return made.results;
}

/**
 * Creates or replaces a schedule by id (QStash's Upstash-Schedule-Id); a replaced one keeps its
 * creation time. A new one is made only while its app has fewer than `max` (counted and written in
 * one statement, as createSchedule); false when the app is at its limit and the id is new.
 */
export async function putSchedule(db: DB, row: NewSchedule, max: number): Promise<boolean> {
  const { names, values } = columnsOf(row);
  const [app, id] = [names.indexOf('app_id') + 2, names.indexOf('id') + 2];
  const kept = new Set(['app_id', 'id', 'created_at']);
  const set = names.filter((n) => !kept.has(n)).map((n) => `${n} = excluded.${n}`);
  // (`WHERE ... ON CONFLICT`: SQLite reads an upsert after INSERT ... SELECT only once the SELECT has a WHERE.)
  const { meta } = await db.$client.prepare(`INSERT INTO schedules (${names.join(', ')}) SELECT ${names.map((_, i) => `?${i + 2}`).join(', ')}
      WHERE (SELECT count(*) FROM schedules WHERE app_id = ?${app}) < ?1 OR EXISTS (SELECT 1 FROM schedules WHERE app_id = ?${app} AND id = ?${id})
      ON CONFLICT (app_id, id) DO UPDATE SET ${set.join(', ')}, last_run_at = NULL, last_task_id = NULL`).bind(max, ...values).run();
  return meta.changes > 0;
}
