import { attemptsByMinute, countDelta, uncounted } from './counts';
import { waitingWake } from './waiting-wake';
import { deletion } from './tasks';
import type { DB } from '.';
import type { NewTaskRow, TaskRow } from './schema';
import { statements } from './batch';
import { jsonRows, type RowIn } from './json-rows';
import { idFloor } from '../ids';

export type Next =
  | { status: 'completed'; expiresAt: number }
  | { status: 'retry'; dueAt: number }
  | { status: 'failed'; expiresAt: number };

/** What one claimed task's attempt came to: the attempt's record and the task's next step. */
export interface Outcome {
  task: Pick<TaskRow, 'appId' | 'id' | 'attempts' | 'wakeAt'>; // as returned by the claim
  next: Next;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null; // error kind and detail for attempts that got no HTTP answer
  response: string | null; // the first KiB of the answer, as text
  responseBytes?: Uint8Array | null; // the same bytes as they came (for callbacks)
}

// A whole consumer batch is recorded with a few statements whatever its size: the outcomes
// travel as one JSON parameter (D1 allows 100 bound parameters per statement, and one statement
// per task would cost one D1 query per task). Every statement is guarded by
// `status = 'in_progress' AND attempts = <claimed>`, so an outcome for a task that was deleted,
// or re-claimed after its lease expired, changes nothing.
const ROWS = jsonRows({
  app_id: 'text', id: 'text', attempts: 'integer', status: 'text', due_at: 'integer', wake_at: 'integer?', started_at: 'integer',
  duration_ms: 'integer', status_code: 'integer?', error: 'text?', response: 'text?',
});
const OUTCOMES = ROWS.from('?1');
const MATCHED = `FROM ${OUTCOMES} AS o JOIN tasks AS t ON t.app_id = o.app_id AND t.id = o.id
    WHERE +t.status = 'in_progress' AND t.attempts = o.attempts`;

/**
 * Moves the attempt held on a task row (`t`) into the log, numbered attempts - 1: the row already
 * counts the attempt that is about to overwrite it. Shared by outcomes and lease recovery.
 */
export const ARCHIVE_PREVIOUS = `
  INSERT OR IGNORE INTO attempts (task_id, number, started_at, duration_ms, status_code, error, response)
  SELECT t.id, t.attempts - 1, t.last_started_at, t.last_duration_ms, t.last_status_code, t.last_error, t.last_response`;

/**
 * A recording's statements over the matched tasks (still the claimed attempt), narrowed by `only`
 * (a condition on a task row, given its alias), if given; `record` then returns the ids it wrote.
 * They run in one transaction, the others before `record` (they read the claimed state).
 */
const outcomeSql = (only?: (alias: string) => string) => {
  const and = only ? ` AND ${only('t')}` : '';
  return {
    minutes: attemptsByMinute(`SELECT o.app_id, o.started_at + o.duration_ms AS ended, o.status ${MATCHED}${and}`),
    counts: countDelta(`SELECT t.app_id, t.id, t.status AS old, o.status AS new ${MATCHED}${and}`),
    // Before a retried task's row is overwritten, its previous attempt moves into the log.
    archive: `${ARCHIVE_PREVIOUS} ${MATCHED} AND t.last_started_at IS NOT NULL${and}`,
    // Times derive from when the attempt ended, the same instant its next step was computed from.
    record: `
    UPDATE tasks SET status = o.status, due_at = o.due_at, wake_at = o.wake_at, updated_at = o.started_at + o.duration_ms,
      completed_at = CASE WHEN o.status = 'completed' THEN o.started_at + o.duration_ms END,
      last_started_at = o.started_at, last_duration_ms = o.duration_ms, last_status_code = o.status_code,
      last_error = o.error, last_response = o.response
    FROM ${OUTCOMES} AS o
    WHERE tasks.app_id = o.app_id AND tasks.id = o.id AND +tasks.status = 'in_progress' AND tasks.attempts = o.attempts${only ? ` AND ${only('tasks')} RETURNING tasks.id` : ''}`,
  };
};
const OUTCOME_SQL = outcomeSql();
// Tasks the sweeper's walk has not counted yet (the usual case) move no counter, so a recording of
// fresh tasks needs no `counts`. The guard is in every statement that touches them, so a walk that
// counted a task since its claim leaves it whole to the usual recording.
const FRESH_SQL = outcomeSql(uncounted);

/**
 * When the sweeper must next look at a task after this outcome: a retry is checked for a lost
 * message after `graceMs`, a failure when it expires; a completed task the sweeper does not track
 * yet stays untracked (its expiry walk deletes it), one it tracks is looked at when it expires.
 */
function wakeAfter(o: Outcome, graceMs: number): number | null {
  if (o.next.status === 'retry') return waitingWake(o.next.dueAt, o.startedAt + o.durationMs, graceMs);
  if (o.next.status === 'failed') return o.next.expiresAt;
  return o.task.wakeAt == null ? null : o.next.expiresAt;
}

/** An outcome as the row the statements read: the task's next state and the attempt's record. */
const asRow = (o: Outcome, graceMs: number): RowIn<typeof ROWS> => ({
  app_id: o.task.appId, id: o.task.id, attempts: o.task.attempts, status: o.next.status,
  due_at: 'dueAt' in o.next ? o.next.dueAt : o.next.expiresAt, wake_at: wakeAfter(o, graceMs),
  started_at: o.startedAt, duration_ms: o.durationMs, status_code: o.statusCode, error: o.error, response: o.response,
});

// With COMPLETED_TTL=0 a task that completes is deleted by its outcome instead of being updated
// (one row written, not two), with its archived attempts; its attempt still counts in throughput.
const COMPLETED_NOW = deletion(`FROM ${OUTCOMES} AS o JOIN tasks AS t ON t.app_id = o.app_id AND t.id = o.id
    WHERE +t.status = 'in_progress' AND t.attempts = o.attempts`);

// Statements one recording sends at most without reports: throughput, counts, archive, record,
// and a deletion's 4 (COMPLETED_TTL=0). Reports (callbacks) add their inserts. (A recording of
// fresh tasks sends 3 at most, then 4 for any the walk counted meanwhile.)
export const OUTCOME_STATEMENTS = 8;

export interface Recording {
  graceMs: number;
  /** SWEEP_WALK_LAG in ms: tasks made more recently than about half of it are likely not yet counted. */
  walkLagMs: number;
  /** COMPLETED_TTL=0: tasks that completed are deleted. */
  deleteCompleted?: boolean;
  reports?: (NewTaskRow & { ofAttempts: number })[];
}

/**
 * Records a consumer batch's outcomes (and their counters and throughput) in one transaction;
 * `deleteCompleted` (COMPLETED_TTL=0) deletes the tasks that completed. Returns the statements sent.
 */
export async function recordOutcomes(db: DB, outcomes: Outcome[], { graceMs, walkLagMs, deleteCompleted = false, reports = [] }: Recording): Promise<number> {
  if (outcomes.length === 0) return 0;
  const encode = (list: Outcome[]) => ROWS.encode(list.map((o) => asRow(o, graceMs)));
  const gone = deleteCompleted ? outcomes.filter((o) => o.next.status === 'completed') : [];
  // Every task young enough that the sweeper's walk has likely not counted it (a hint: ids sort by
  // creation time), no deletion, no report: the fresh recording, which needs no counts statement.
  const young = idFloor(Date.now() - walkLagMs / 2);
  if (gone.length === 0 && reports.length === 0 && outcomes.every((o) => o.task.id >= young)) return recordFresh(db, outcomes, encode);
  return recordWhole(db, outcomes, encode, gone, reports);
}

/** The usual recording: throughput, counters, archive and rows (and deletions, reports) in one transaction. */
async function recordWhole(db: DB, outcomes: Outcome[], encode: (list: Outcome[]) => string, gone: Outcome[] = [], reports: (NewTaskRow & { ofAttempts: number })[] = []): Promise<number> {
  const kept = gone.length ? outcomes.filter((o) => o.next.status !== 'completed') : outcomes;
  const again = kept.filter((o) => o.task.attempts > 1);
  const d1 = db.$client;
  const done = gone.length ? encode(gone) : '';
  const sent = [
    // Reports (callbacks) first: each is inserted only while its task is still the claimed attempt.
    ...(reports.length ? statements(db, reports, 'reported') : []),
    d1.prepare(OUTCOME_SQL.minutes).bind(encode(outcomes)),
    ...(kept.length ? [d1.prepare(OUTCOME_SQL.counts).bind(encode(kept))] : []),
    ...(again.length ? [d1.prepare(OUTCOME_SQL.archive).bind(encode(again))] : []),
    ...(kept.length ? [d1.prepare(OUTCOME_SQL.record).bind(encode(kept))] : []),
    ...(gone.length ? [COMPLETED_NOW.enqueued, COMPLETED_NOW.counts, COMPLETED_NOW.attempts, COMPLETED_NOW.tasks].map((sql) => d1.prepare(sql).bind(done)) : []),
  ];
  await d1.batch(sent);
  return sent.length;
}

/**
 * Records tasks the walk has not counted yet: they move no counter, so no counts statement. Every
 * statement of the first transaction touches only tasks still uncounted, so it is whole for each
 * task it writes; any task the walk counted since its claim is recorded, counters and all, by a
 * second transaction of the usual statements (which a retry of the whole recording repeats
 * safely: the first then matches nothing more).
 */
async function recordFresh(db: DB, outcomes: Outcome[], encode: (list: Outcome[]) => string): Promise<number> {
  const d1 = db.$client;
  const json = encode(outcomes);
  const again = outcomes.filter((o) => o.task.attempts > 1);
  const sent = [
    d1.prepare(FRESH_SQL.minutes).bind(json),
    ...(again.length ? [d1.prepare(FRESH_SQL.archive).bind(encode(again))] : []),
    d1.prepare(FRESH_SQL.record).bind(json),
  ];
  const results = await d1.batch<{ id: string }>(sent);
  const written = new Set(results[sent.length - 1].results.map((r) => r.id));
  // Counted by a walk since the claim (or deleted, or claimed again: then these change nothing).
  const walked = outcomes.filter((o) => !written.has(o.task.id));
  if (walked.length === 0) return sent.length;
  return sent.length + (await recordWhole(db, walked, encode));
}
