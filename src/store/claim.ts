import { getTableColumns } from 'drizzle-orm';
import { countDelta, uncounted } from './counts';
import { jsonRows } from './json-rows';
import type { DB } from '.';
import { tasks, type TaskRow, type TaskStatus } from './schema';
import { DUE_COLUMNS, getTask, KEYS, toTask, walkAll, type Due, type TaskKey } from './tasks';
import { waitingWakeSql } from './waiting-wake';

// A claim's time (updated_at) is when the database ran it, by its own clock (CLAIMED_NOW), not when
// the invocation sent it: a claim that waited in a busy database's line would otherwise arrive
// with its start window spent, and every claim would bounce exactly when the database is busiest.
// The window itself, and how a DELETE relies on it, is in ../start-window.ts.
// The database's clock in unix ms (SQLite's 'now' is fixed for the whole statement).
const CLAIMED_NOW = `CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)`;

// A claim covers tasks that start over the next moments, so it must not bring every body along
// (100 bodies of 1 MiB would not fit an isolate): bodies up to this size come with the claim
// (webhook payloads usually are), bigger ones are read by the attempt that sends them.
const INLINE_BODY_BYTES = 8 * 1024;
const RETURNED = Object.values(getTableColumns(tasks)).map((c) => c.name).filter((n) => n !== 'body')
  .map((n) => `tasks.${n}`).join(', ');

/** A claimed task: its body is there, unless it is bigger than INLINE_BODY_BYTES (`bodyBytes` says). */
export type ClaimedTask = TaskRow & { bodyBytes: number | null };

// ?1 keys, ?2 now + grace (the lease is the task's timeout on top), ?3 now, ?4 budget left (ms).
// A claimed task starts at once, so if its worker dies the sweeper retries it once its own attempt
// could no longer be running. wake_at follows the lease only for rows the sweeper already tracks: a
// fresh row stays untracked (the sweeper's walk over new ids finds it if its worker died).
const CLAIM_WHERE = `tasks.app_id = k.appId AND tasks.id = k.id AND +tasks.status IN ('pending', 'retry')
    AND +tasks.due_at <= ?3 AND tasks.timeout * 1000 <= ?4`;
const UNFOLDED = uncounted('tasks');
const claimSql = (where: string) => `
  UPDATE tasks SET status = 'in_progress', attempts = attempts + 1, due_at = ?2 + timeout * 1000,
    wake_at = CASE WHEN wake_at IS NULL THEN NULL ELSE ?2 + timeout * 1000 END, updated_at = ${CLAIMED_NOW}
  FROM ${KEYS.from('?1')} AS k WHERE ${where}
  RETURNING ${RETURNED}, CASE WHEN length(tasks.body) <= ${INLINE_BODY_BYTES} THEN tasks.body END AS body,
    length(tasks.body) AS bodyBytes`;

const CLAIM_SQL = {
  // Tasks not yet folded into the counters: claiming them moves no counter (the usual case).
  fresh: claimSql(`${CLAIM_WHERE} AND ${UNFOLDED}`),
  counts: countDelta(`SELECT tasks.app_id, tasks.id, tasks.status AS old, 'in_progress' AS new FROM ${KEYS.from('?1')} AS k JOIN tasks ON ${CLAIM_WHERE}`),
  any: claimSql(CLAIM_WHERE),
};

/**
 * Claims due tasks among `keys`, to start within START_WINDOW_MS (../start-window.ts) of their
 * claim: only pending/retry tasks that are due (and whose timeout fits in `budgetMs`) move to
 * in_progress, so duplicate, stale and early messages, and deleted tasks, claim nothing. One statement in the usual case; tasks the
 * counters already cover are claimed together with their counter move, in one transaction.
 */
export async function claimTasks(db: DB, keys: TaskKey[], now: number, graceMs: number, budgetMs = 900_000): Promise<ClaimedTask[]> {
  if (keys.length === 0) return [];
  const d1 = db.$client;
  const json = KEYS.encode(keys);
  const args = [json, now + graceMs, now, budgetMs] as const;
  const { results } = await d1.prepare(CLAIM_SQL.fresh).bind(...args).all<Record<string, unknown>>();
  const claimed = results.map(toTask) as ClaimedTask[];
  if (claimed.length < keys.length) {
    const got = new Set(claimed.map((t) => t.id));
    const rest = KEYS.encode(keys.filter((k) => !got.has(k.id)));
    const [, older] = await d1.batch<Record<string, unknown>>([
      d1.prepare(CLAIM_SQL.counts).bind(rest, ...args.slice(1)),
      d1.prepare(CLAIM_SQL.any).bind(rest, ...args.slice(1)),
    ]);
    claimed.push(...(older.results.map(toTask) as ClaimedTask[]));
  }
  return claimed;
}

// Statements claimTasks sends at most (one usually; the batch of two when older tasks are among them).
export const CLAIM_STATEMENTS = 3;

// ?1 keys, ?2 the lease base a claim was sent with (its `now` + grace). A claim whose answer was
// lost may have committed: its tasks are those of its keys still in_progress with that claim's
// lease (due_at = ?2 + timeout), which no other claim or outcome writes. The lease base is the
// claim's token: it needs no column of its own.
const LOST_CLAIM_SQL = `SELECT tasks.app_id AS appId, tasks.id, tasks.attempts FROM ${KEYS.from('?1')} AS k
  JOIN tasks ON tasks.app_id = k.appId AND tasks.id = k.id AND +tasks.status = 'in_progress' AND tasks.due_at = ?2 + tasks.timeout * 1000`;

/**
 * Puts back what a claim of `keys` sent at `now` may have claimed although its answer never came
 * (D1 retries only read-only queries): waiting again, due `now`, their attempt count unchanged, so
 * the message's redelivery runs them with their retry budget intact. Returns how many it put back.
 */
export async function releaseLostClaim(db: DB, keys: TaskKey[], now: number, graceMs: number): Promise<number> {
  if (keys.length === 0) return 0;
  const { results } = await db.$client.prepare(LOST_CLAIM_SQL).bind(KEYS.encode(keys), now + graceMs).all<TaskKey & { attempts: number }>();
  await unclaimTasks(db, results.map((t) => ({ ...t, dueAt: now })), Date.now(), graceMs);
  return results.length;
}

/** The body of a claimed task, read as its attempt starts; null if the task is no longer that claim (deleted). */
export async function claimedBody(db: DB, task: Pick<TaskRow, 'appId' | 'id' | 'attempts'>): Promise<{ body: unknown } | null> {
  return db.$client
    .prepare(`SELECT body FROM tasks WHERE app_id = ?1 AND id = ?2 AND status = 'in_progress' AND attempts = ?3`)
    .bind(task.appId, task.id, task.attempts)
    .first<{ body: unknown }>();
}

// ?1 held tasks (attempts: as claimed, dueAt: due again), ?2 now, ?3 grace. A claimed task that flow
// control holds back goes back to waiting as it was: its attempt count and status unchanged, due
// when its flow lets it go. Counters move back for tasks they cover. Its wake follows the one rule
// (store/waiting-wake.ts): one held beyond Queues' 24 h gets no message now and must be looked at a
// minute before its slot, not SWEEP_GRACE after it (late, and behind its flow's later tasks).
const HELD = jsonRows({ appId: 'text', id: 'text', attempts: 'integer', dueAt: 'integer' });
const HELD_WHERE = `tasks.app_id = k.appId AND tasks.id = k.id AND +tasks.status = 'in_progress' AND tasks.attempts = k.attempts`;
const WAITING_AGAIN = `CASE WHEN tasks.attempts - 1 = 0 THEN 'pending' ELSE 'retry' END`;
const UNCLAIM_SQL = {
  counts: countDelta(`SELECT tasks.app_id, tasks.id, tasks.status AS old, ${WAITING_AGAIN} AS new FROM ${HELD.from('?1')} AS k JOIN tasks ON ${HELD_WHERE}`),
  unclaim: `UPDATE tasks SET status = ${WAITING_AGAIN}, attempts = tasks.attempts - 1, due_at = k.dueAt, updated_at = ?2,
      wake_at = CASE WHEN wake_at IS NULL THEN NULL ELSE ${waitingWakeSql('?2', '?3', true, 'k.dueAt')} END
    FROM ${HELD.from('?1')} AS k WHERE ${HELD_WHERE}`,
};

// Statements unclaimTasks sends (one transaction).
export const UNCLAIM_STATEMENTS = 2;

/** Puts claimed tasks that may not start yet back to waiting, due at `dueAt` each (one transaction). */
export async function unclaimTasks(db: DB, held: (TaskKey & { attempts: number; dueAt: number })[], now: number, graceMs: number) {
  if (held.length === 0) return;
  const d1 = db.$client;
  const json = HELD.encode(held);
  await d1.batch([d1.prepare(UNCLAIM_SQL.counts).bind(json), d1.prepare(UNCLAIM_SQL.unclaim).bind(json, now, graceMs)]);
}

// ?1 keys, ?2 now, ?3 wake (now + grace: the message goes now; the sweeper checks after grace).
// Bulk replays leave waiting tasks that are already due alone (they are on their way).
const REPLAY_WHERE = `tasks.app_id = k.appId AND tasks.id = k.id AND tasks.status <> 'in_progress'
    AND (?4 = 0 OR tasks.status IN ('completed', 'failed') OR tasks.due_at > ?2)`;
const REPLAYED = `CASE WHEN tasks.attempts = 0 THEN 'pending' ELSE 'retry' END`;
const REPLAY_SQL = {
  counts: countDelta(`SELECT tasks.app_id, tasks.id, tasks.status AS old, ${REPLAYED} AS new FROM ${KEYS.from('?1')} AS k JOIN tasks ON ${REPLAY_WHERE}`),
  // A finished task gets its full retry budget again, counted from its attempts so far.
  replay: `UPDATE tasks SET status = ${REPLAYED},
      retry_base = CASE WHEN tasks.status IN ('completed', 'failed') THEN tasks.attempts ELSE tasks.retry_base END,
      due_at = ?2, updated_at = ?2, wake_at = ?3, completed_at = NULL
    FROM ${KEYS.from('?1')} AS k WHERE ${REPLAY_WHERE}
    RETURNING ${DUE_COLUMNS('tasks')}`,
};

async function replayKeys(db: DB, keys: TaskKey[], now: number, graceMs: number, onlyNotDue = false) {
  if (keys.length === 0) return [];
  const d1 = db.$client;
  const args = [KEYS.encode(keys), now, now + graceMs, onlyNotDue ? 1 : 0];
  const [, done] = await d1.batch<Due>([
    d1.prepare(REPLAY_SQL.counts).bind(...args),
    d1.prepare(REPLAY_SQL.replay).bind(...args),
  ]);
  return done.results;
}

/**
 * Makes a task due now (any status but in_progress). A finished task gets a fresh retry budget.
 * Returns the task, 'busy' when it is in progress, or undefined when there is no such task.
 */
export async function replayTask(db: DB, appId: string, id: string, now: number, graceMs: number) {
  const replayed = await replayKeys(db, [{ appId, id }], now, graceMs);
  const task = await getTask(db, appId, id);
  return task && replayed.length === 0 ? ('busy' as const) : task;
}

export const REPLAY_CHUNK = 500;

/** Replays up to REPLAY_CHUNK of an app's tasks with one status (waiting ones only if not yet due), from `before` on (`share` of that, see deleteTasks). */
export async function replayTasks(db: DB, appId: string, status: Exclude<TaskStatus, 'in_progress'>, now: number, graceMs: number, before?: string, share = 1) {
  const replayed: Due[] = [];
  const steps = Math.max(1, Math.floor(20 * share));
  const { next } = await walkAll(db, appId, { status, before, max: Math.max(1, Math.floor(REPLAY_CHUNK * share)), steps }, async (ids) => {
    const done = await replayKeys(db, ids.map((id) => ({ appId, id })), now, graceMs, true);
    replayed.push(...done);
    return ids.length;
  });
  return { replayed, next };
}
