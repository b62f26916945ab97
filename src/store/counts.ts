import { TASK_STATUSES } from './schema';

// Task counts per app without triggers (a trigger writes a counter row on every transition, and D1
// bills each). Counters are moved in aggregate by the statement that changes the tasks, in the same
// D1 batch (one transaction) and just before it: one counter row per app per statement.
//
// They cover only tasks the sweeper has folded in (id <= app_stats.folded_to). A fresh task that is
// claimed, completed or deleted before the fold moves no counter at all: the fold counts it as it
// then is, and until then /stats counts it live from its id range.

/** Whether the task row `t` (an alias) is one the sweeper's walk has not counted yet: its counters need no move. */
export const uncounted = (t: string) => `${t}.id > (SELECT folded_to FROM app_stats AS f WHERE f.app_id = ${t}.app_id)`;

/**
 * A statement that moves the counts of the tasks in `rows` (columns app_id, id, old, new: the
 * status before and after the change; new is NULL for a deletion). Run it before the change.
 */
export function countDelta(rows: string): string {
  const sums = TASK_STATUSES.map((s) => `sum((r.new IS '${s}') - (r.old IS '${s}')) AS ${s}`).join(', ');
  const set = TASK_STATUSES.map((s) => `${s} = app_stats.${s} + d.${s}`).join(', ');
  const moved = TASK_STATUSES.map((s) => `d.${s} <> 0`).join(' OR ');
  return `UPDATE app_stats SET ${set}
    FROM (SELECT r.app_id AS app_id, ${sums} FROM (${rows}) AS r
          JOIN app_stats AS f ON f.app_id = r.app_id AND r.id <= f.folded_to GROUP BY r.app_id) AS d
    WHERE app_stats.app_id = d.app_id AND (${moved})`;
}

/** Throughput: attempts that ended, by app and minute, from rows (app_id, ended, status). */
export const attemptsByMinute = (rows: string) => `
  INSERT INTO stats_minutes (app_id, minute, attempts, completed, failed)
  SELECT app_id, ended / 60000, count(*), sum(status = 'completed'), sum(status = 'failed') FROM (${rows}) WHERE true
  GROUP BY app_id, ended / 60000
  ON CONFLICT (app_id, minute) DO UPDATE SET attempts = attempts + excluded.attempts,
    completed = completed + excluded.completed, failed = failed + excluded.failed`;

/** Throughput: tasks enqueued, by app and minute of creation, from `FROM ... WHERE ...` over tasks t. */
export const enqueuedByMinute = (fromWhere: string) => `
  INSERT INTO stats_minutes (app_id, minute, enqueued)
  SELECT t.app_id, t.created_at / 60000, count(*) ${fromWhere} GROUP BY t.app_id, t.created_at / 60000
  ON CONFLICT (app_id, minute) DO UPDATE SET enqueued = enqueued + excluded.enqueued`;
