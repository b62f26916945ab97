import { attemptsByMinute, countDelta } from './counts';
import type { DB } from '.';
import { ARCHIVE_PREVIOUS } from './outcomes';
import { waitingWakeSql } from './waiting-wake';
import { deletion, DUE_COLUMNS, KEYS, type Due, type TaskKey } from './tasks';

// The sweeper sees a task only when it must act on it, through two cheap paths:
// - the wake index: rows whose wake_at has come (a waiting task's message may be lost, a lease
//   ran out, a failed or late task expires). Rounds are sized by the work they find (see rounds.ts).
// - a walk over new ids (ids sort by creation time; the table is clustered on app_id, id), which
//   every task passes exactly once, SWEEP_WALK_LAG after it was made: the task is counted into app_stats
//   then, and, unless it already completed, handed to the wake index. A second walk, COMPLETED_TTL
//   later, deletes the completed ones. So a task that succeeds at once never enters an index.
const DAY_MS = 86_400_000;

export type { Due };


const AT = `FROM ${KEYS.from('?1')} AS k JOIN tasks AS t ON t.app_id = k.appId AND t.id = k.id`;
const LEASE_OVER = `t.status = 'in_progress' AND t.due_at <= ?2 AND t.wake_at <= ?2`;
const EXPIRED = `t.status IN ('completed', 'failed') AND t.due_at <= ?2 AND t.wake_at <= ?2`;
const SPENT = `t.attempts - t.retry_base > t.max_retries`;

const expire = deletion(`${AT} WHERE ${EXPIRED}`);

// ?1 keys of rows whose wake_at came, ?2 now, ?3 grace, ?4 failed TTL.
const WAKE_SQL = {
  due: `SELECT app_id AS appId, id FROM tasks WHERE wake_at <= ?1 ORDER BY wake_at LIMIT ?2`,
  // A waiting task whose message may be lost, or a long-delayed one coming due: (re)send it.
  // due_at stays the true due time; wake_at is the re-send marker.
  resend: `UPDATE tasks SET wake_at = ${waitingWakeSql('?2', '?3', true)}
    WHERE (app_id, id) IN (SELECT t.app_id, t.id ${AT} WHERE t.status IN ('pending', 'retry') AND t.wake_at <= ?2)
    RETURNING ${DUE_COLUMNS()}`,
  // A lease ran out: the worker died mid-attempt. That attempt ended (lease_expired).
  leaseMinutes: attemptsByMinute(`SELECT t.app_id, ?2 AS ended, CASE WHEN ${SPENT} THEN 'failed' ELSE 'retry' END AS status ${AT} WHERE ${LEASE_OVER}`),
  leaseCounts: countDelta(`SELECT t.app_id, t.id, t.status AS old, CASE WHEN ${SPENT} THEN 'failed' ELSE 'retry' END AS new ${AT} WHERE ${LEASE_OVER}`),
  leaseArchive: `${ARCHIVE_PREVIOUS} ${AT} WHERE ${LEASE_OVER} AND t.attempts > 1 AND t.last_started_at IS NOT NULL`,
  recover: `
    UPDATE tasks SET
      status = CASE WHEN attempts - retry_base > max_retries THEN 'failed' ELSE 'retry' END,
      due_at = CASE WHEN attempts - retry_base > max_retries THEN ?2 + ?4 ELSE ?2 END,
      wake_at = CASE WHEN attempts - retry_base > max_retries THEN ?2 + ?4 ELSE ?2 + ?3 END,
      last_started_at = updated_at, last_duration_ms = ?2 - updated_at, last_status_code = NULL,
      last_error = 'lease_expired: the attempt did not report back before its lease ran out',
      last_response = NULL, updated_at = ?2
    WHERE (app_id, id) IN (SELECT t.app_id, t.id ${AT} WHERE ${LEASE_OVER})
    RETURNING ${DUE_COLUMNS()}, status`,
  expireEnqueued: expire.enqueued,
  expireCounts: expire.counts,
  expireAttempts: expire.attempts,
  expire: expire.tasks,
  // Anything else woke early (a lease or an expiry still ahead): look again then.
  later: `UPDATE tasks SET wake_at = due_at
    WHERE (app_id, id) IN (SELECT t.app_id, t.id ${AT} WHERE t.wake_at <= ?2 AND t.status IN ('in_progress', 'completed', 'failed') AND t.due_at > ?2)`,
};

/** One round over up to `size` rows whose wake_at came: returns what must be (re)sent and how much was done. */
export async function wakeRound(db: DB, now: number, graceMs: number, failedTtlMs: number, size: number) {
  const d1 = db.$client;
  const { results: keys } = await d1.prepare(WAKE_SQL.due).bind(now, size).all<TaskKey>();
  if (keys.length === 0) return { seen: 0, send: [] as Due[], resent: 0, recovered: 0, deleted: 0 };
  const args = [KEYS.encode(keys), now, graceMs, failedTtlMs];
  const order = ['resend', 'leaseMinutes', 'leaseCounts', 'leaseArchive', 'recover', 'expireEnqueued', 'expireCounts', 'expireAttempts', 'expire', 'later'] as const;
  const r = await d1.batch(order.map((name) => d1.prepare(WAKE_SQL[name]).bind(...args.slice(0, maxParam(WAKE_SQL[name])))));
  const resent = r[order.indexOf('resend')].results as Due[];
  const recovered = r[order.indexOf('recover')].results as (Due & { status: string })[];
  return {
    seen: keys.length,
    send: [...resent, ...recovered.filter((t) => t.status === 'retry')],
    resent: resent.length,
    recovered: recovered.length,
    deleted: r[order.indexOf('expire')].results.length,
  };
}

/** The highest ?N a statement uses: D1 refuses more bound values than placeholders. */
const maxParam = (sql: string) => (sql.match(/\?\d+/g) ?? []).reduce((m, p) => Math.max(m, Number(p.slice(1))), 0);

// Per app, so each app's old minutes are one range of the table's key. ?1 the first minute kept.
const OLD_MINUTES = `FROM stats_minutes WHERE app_id IN (SELECT app_id FROM app_stats) AND minute < ?1`;
const PRUNE_SQL = {
  // What leaves the rollups joins the all-time totals in the same transaction, so the totals
  // /metrics reports never go down.
  total: `UPDATE app_stats SET enqueued_total = enqueued_total + p.enqueued, attempts_total = attempts_total + p.attempts,
      completed_total = completed_total + p.completed, failed_total = failed_total + p.failed
    FROM (SELECT app_id, sum(enqueued) AS enqueued, sum(attempts) AS attempts, sum(completed) AS completed, sum(failed) AS failed
          ${OLD_MINUTES} GROUP BY app_id) AS p
    WHERE app_stats.app_id = p.app_id`,
  prune: `DELETE ${OLD_MINUTES}`,
};

/** Throughput rollups older than two days are no longer shown by minute; their sums join the totals. */
export async function pruneStats(db: DB, now: number): Promise<void> {
  const d1 = db.$client;
  const first = Math.floor((now - 2 * DAY_MS) / 60_000);
  await d1.batch([d1.prepare(PRUNE_SQL.total).bind(first), d1.prepare(PRUNE_SQL.prune).bind(first)]);
}
