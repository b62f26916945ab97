import type { DB } from './index';
import type { AttemptResult } from '../hook/call';
import type { TaskRow } from './schema';

export type Next =
  | { status: 'completed'; expiresAt: number }
  | { status: 'retry'; dueAt: number }
  | { status: 'failed'; expiresAt: number };

/** What one claimed task's attempt came to: the attempt's record and the task's next step. */
export type Outcome = Pick<AttemptResult, 'startedAt' | 'durationMs' | 'statusCode' | 'error' | 'response'> & {
  task: TaskRow; // as returned by the claim
  next: Next;
};

// A whole consumer batch is recorded with a few statements whatever its size: the outcomes
// travel as one JSON parameter (D1 allows 100 bound parameters per statement, and one statement
// per task would cost one D1 query per task). Every statement is guarded by
// `status = 'in_progress' AND attempts = <claimed>`, so an outcome for a task that was deleted,
// or re-claimed after its lease expired, changes nothing. (`+status` keeps SQLite from walking
// every in-progress task through the status index instead of looking each id up.)
const OUTCOMES = `SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.attempts') AS attempts,
    json_extract(value, '$.status') AS status, json_extract(value, '$.dueAt') AS due_at,
    json_extract(value, '$.startedAt') AS started_at, json_extract(value, '$.durationMs') AS duration_ms,
    json_extract(value, '$.statusCode') AS status_code, json_extract(value, '$.error') AS error,
    json_extract(value, '$.response') AS response
  FROM json_each(?1)`;

/**
 * Moves the attempt held on a task row (`t`) into the log, numbered attempts - 1: the row already
 * counts the attempt that is about to overwrite it. Shared by outcomes and lease recovery.
 */
export const ARCHIVE_PREVIOUS = `
  INSERT OR IGNORE INTO attempts (task_id, number, started_at, duration_ms, status_code, error, response)
  SELECT t.id, t.attempts - 1, t.last_started_at, t.last_duration_ms, t.last_status_code, t.last_error, t.last_response`;

export const OUTCOME_SQL = {
  // Before a retried task's row is overwritten, its previous attempt moves into the log.
  archive: `${ARCHIVE_PREVIOUS}
    FROM (${OUTCOMES}) AS o JOIN tasks AS t ON t.id = o.id
    WHERE +t.status = 'in_progress' AND t.attempts = o.attempts AND t.last_started_at IS NOT NULL`,
  // Times derive from when the attempt ended, the same instant its next step was computed from.
  record: `
    UPDATE tasks SET status = o.status, due_at = o.due_at, updated_at = o.started_at + o.duration_ms,
      completed_at = CASE WHEN o.status = 'completed' THEN o.started_at + o.duration_ms END,
      last_started_at = o.started_at, last_duration_ms = o.duration_ms, last_status_code = o.status_code,
      last_error = o.error, last_response = o.response
    FROM (${OUTCOMES}) AS o
    WHERE tasks.id = o.id AND +tasks.status = 'in_progress' AND tasks.attempts = o.attempts`,
};

/** Records a consumer batch's outcomes in one D1 batch (one transaction) of at most 2 statements. */
export async function recordOutcomes(db: DB, outcomes: Outcome[]): Promise<void> {
  const encode = (list: Outcome[]) =>
    JSON.stringify(
      list.map((o) => ({
        id: o.task.id,
        attempts: o.task.attempts,
        status: o.next.status,
        dueAt: 'dueAt' in o.next ? o.next.dueAt : o.next.expiresAt,
        startedAt: o.startedAt,
        durationMs: o.durationMs,
        statusCode: o.statusCode,
        error: o.error,
        response: o.response,
      })),
    );
  const again = outcomes.filter((o) => o.task.attempts > 1);
  const d1 = db.$client;
  const statements: D1PreparedStatement[] = [];
  if (again.length) statements.push(d1.prepare(OUTCOME_SQL.archive).bind(encode(again)));
  if (outcomes.length) statements.push(d1.prepare(OUTCOME_SQL.record).bind(encode(outcomes)));
  if (statements.length) await d1.batch(statements);
}
