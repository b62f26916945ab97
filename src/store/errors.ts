/**
 * What a D1 failure means, by D1's own error list:
 * https://developers.cloudflare.com/d1/observability/debug-d1/#error-list
 * (and https://developers.cloudflare.com/d1/best-practices/retry-queries/ for what to retry).
 *
 * Only failures known to be deterministic (a constraint, a value or statement too big, an SQL
 * error, a missing table or column, a type mismatch) fail the same way every time. Everything else
 * D1 throws (the list's "Retry the operation" rows, its overloaded / reset / timeout rows, and any
 * message D1 adds later) is treated as transient: a client gets 503 + Retry-After, the consumer
 * and the sweeper try again later. Guessing "transient" wrongly costs a retry; guessing
 * "deterministic" wrongly makes a client drop a task it should have retried.
 */
export type D1Failure = 'transient' | 'not_migrated' | 'deterministic';

/** D1's documented messages whose recommended action is to retry (or wait and retry). */
export const D1_TRANSIENT_MESSAGES = [
  'D1 DB reset because its code was updated.',
  'Internal error while starting up D1 DB storage caused object to be reset.',
  'Network connection lost.',
  'Internal error in D1 DB storage caused object to be reset.',
  'Cannot resolve D1 DB due to transient issue on remote node.',
  "Can't read from request stream because client disconnected.",
  'D1 DB storage operation exceeded timeout which caused object to be reset.',
  'D1 DB is overloaded. Requests queued for too long.',
  'D1 DB is overloaded. Too many requests queued.',
  "D1 DB's isolate exceeded its memory limit and was reset.",
  'D1 DB exceeded its CPU time limit and was reset.',
  // Seen in production beside the list: read replication losing its primary, and D1's generic
  // internal failure (neither is deterministic).
  'Replica disconnected from primary',
  'D1_ERROR: internal error',
] as const;

// Fail the same way on every try. SQLITE_ERROR is SQLite's code for an SQL error (bad syntax,
// unknown column); D1_EXEC_ERROR / D1_TYPE_ERROR / D1_COLUMN_NOTFOUND are D1's own constants for them.
const MISSING_TABLE = /no such table/i;
const DETERMINISTIC = [
  /constraint failed|SQLITE_CONSTRAINT/i,
  /too big|too large|too long|too many SQL variables|SQLITE_TOOBIG|SQLITE_RANGE/i,
  /SQLITE_ERROR|syntax error|no such column|D1_EXEC_ERROR|D1_TYPE_ERROR|D1_COLUMN_NOTFOUND|SQLITE_MISMATCH/i,
];
// Anything that names D1 or SQLite came from the database.
const FROM_D1 = /D1_|\bD1\b|SQLITE_/;
const TRANSIENT = new RegExp(D1_TRANSIENT_MESSAGES.map((m) => m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'i');

/** The messages of an error and its causes (drizzle wraps D1's error as `cause`). */
const messagesOf = (err: unknown) => {
  const messages: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) messages.push(e.message);
  return messages.join(' | ');
};

/** How a D1 failure should be answered; null when `err` did not come from D1 (a bug of ours). */
export function d1Failure(err: unknown): D1Failure | null {
  const text = messagesOf(err);
  if (TRANSIENT.test(text)) return 'transient';
  if (MISSING_TABLE.test(text)) return 'not_migrated';
  if (DETERMINISTIC.some((re) => re.test(text))) return 'deterministic';
  return FROM_D1.test(text) ? 'transient' : null;
}

/** Worth trying again: a failure D1 documents as transient, or one it does not document as deterministic. */
export const isTransient = (err: unknown) => d1Failure(err) === 'transient';

/** What a client is told to wait after a transient failure (Retry-After, seconds). */
export const RETRY_AFTER_S = 5;

/**
 * Runs `op` again after a transient D1 failure, up to `tries` times with growing pauses (D1
 * retries only read-only queries itself). Only for idempotent work: statements guarded by the
 * state they change (an attempt number, a status), so a retry after a lost answer changes nothing.
 */
export async function retryTransient<T>(op: () => Promise<T>, tries = 3, pauseMs = 250): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (err) {
      if (i >= tries || !isTransient(err)) throw err;
      await new Promise((r) => setTimeout(r, pauseMs * 2 ** (i - 1) * (0.5 + Math.random())));
    }
  }
}
