import { idFloor } from '../ids';
import { countDelta, enqueuedByMinute } from './counts';
import type { DB } from '.';
import { EXPIRY_ROUND_COST, ROLLUP_ROUND_COST, inRounds, WALK_CHUNK, type TickBudget } from './rounds';
import { waitingWakeSql } from './waiting-wake';
import { jsonRows } from './json-rows';

// The two walks over new ids (see sweep.ts). Each reads, per app, only the ids made since its last
// walk (the clustered key makes that a range), so its cost follows the enqueue rate, never the
// number of stored tasks. A walk moves an app's cursor only over rows it has handled.

// A walk goes in chunks: a read finds, per app, the last id of the next WALK_CHUNK rows past the
// app's cursor (?1 the walk's upper id, ?2 the chunk), then one transaction acts on exactly those ranges
// and moves the cursors to their ends. Each row is read once per walk: nothing re-reads what a
// former round or tick has already handled, however long the backlog.
const chunkSql = (cursor: 'folded_to' | 'expired_to', upper: string) => `
  SELECT app, max(id) AS high, count(*) AS n FROM (SELECT t.app_id AS app, t.id FROM app_stats AS s CROSS JOIN tasks AS t
    ON t.app_id = s.app_id AND t.id > s.${cursor} AND t.id <= ${upper} LIMIT ?2) GROUP BY app`;
// ?1 the ranges: the rows of each app past its cursor up to its `high` id.
const RANGE_ROWS = jsonRows({ app: 'text', high: 'text' });
const RANGES = RANGE_ROWS.from('?1');
const rangeOf = (cursor: 'folded_to' | 'expired_to') =>
  `FROM ${RANGES} AS b JOIN app_stats AS s ON s.app_id = b.app CROSS JOIN tasks AS t ON t.app_id = s.app_id AND t.id > s.${cursor} AND t.id <= b.high`;
const NEW = rangeOf('folded_to');

// ?1 ranges, ?2 now, ?3 grace.
const ROLLUP_SQL = {
  chunk: chunkSql('folded_to', '?1'),
  // Tasks that are still waiting, running or failed join the wake index; completed ones need nothing
  // until the expiry walk. A waiting task is due its lost-message check SWEEP_GRACE after it is due
  // (now, if that has passed: the wake round right after this walk then re-sends it).
  track: `UPDATE tasks SET wake_at = CASE WHEN status IN ('pending', 'retry') THEN ${waitingWakeSql('?2', '?3', false)} ELSE due_at END
    WHERE (app_id, id) IN (SELECT t.app_id, t.id ${NEW} WHERE t.wake_at IS NULL AND t.status <> 'completed')`,
  enqueued: enqueuedByMinute(NEW),
  rollUp: `UPDATE app_stats SET pending = app_stats.pending + f.pending, in_progress = app_stats.in_progress + f.in_progress,
      retry = app_stats.retry + f.retry, completed = app_stats.completed + f.completed, failed = app_stats.failed + f.failed, folded_to = f.high
    FROM (SELECT t.app_id, b.high, sum(t.status = 'pending') AS pending, sum(t.status = 'in_progress') AS in_progress,
            sum(t.status = 'retry') AS retry, sum(t.status = 'completed') AS completed, sum(t.status = 'failed') AS failed
          ${NEW} GROUP BY t.app_id) AS f
    WHERE app_stats.app_id = f.app_id`,
};

/** The next chunk of a walk: its ranges (as the JSON parameter) and how many rows they hold. */
async function chunk(db: DB, sql: string, upTo: string): Promise<{ found: number; json: string }> {
  const { results } = await db.$client.prepare(sql).bind(upTo, WALK_CHUNK).all<{ app: string; high: string; n: number }>();
  return { found: results.reduce((sum, r) => sum + r.n, 0), json: RANGE_ROWS.encode(results) };
}

/** Counts the tasks made up to `lagMs` ago into app_stats and hands unfinished ones to the wake index, in rounds. */
export async function rollUpNewTasks(db: DB, now: number, lagMs: number, graceMs: number, budget: TickBudget): Promise<boolean> {
  const d1 = db.$client;
  // Never past the real clock (a sweep run with a clock ahead must not roll up ids not yet made).
  const upTo = idFloor(Math.min(now - lagMs, Date.now()));
  return inRounds(budget, ROLLUP_ROUND_COST, WALK_CHUNK, async () => {
    const { found, json } = await chunk(db, ROLLUP_SQL.chunk, upTo);
    if (found === 0) return 0;
    await d1.batch([
      d1.prepare(ROLLUP_SQL.track).bind(json, now, graceMs),
      d1.prepare(ROLLUP_SQL.enqueued).bind(json),
      d1.prepare(ROLLUP_SQL.rollUp).bind(json),
    ]);
    return found;
  });
}

// ?1 ranges, ?2 now. The expiry walk never passes an app's roll-up (chunk: ?1 its upper id).
const OLD = rangeOf('expired_to');
const EXPIRED = `t.status = 'completed' AND t.wake_at IS NULL AND t.due_at <= ?2`;
const EXPIRY_SQL = {
  chunk: chunkSql('expired_to', 'min(?1, s.folded_to)'),
  // Nothing but expired completed tasks should be left untracked this far back; anything else is
  // handed to the wake index before the walk moves past it.
  track: `UPDATE tasks SET wake_at = due_at WHERE (app_id, id) IN (
    SELECT t.app_id, t.id ${OLD} WHERE t.wake_at IS NULL AND NOT (t.status = 'completed' AND t.due_at <= ?2))`,
  counts: countDelta(`SELECT t.app_id, t.id, t.status AS old, NULL AS new ${OLD} WHERE ${EXPIRED}`),
  // Counted by meta.changes: returning every deleted id would cost the Worker memory for nothing.
  delete: `DELETE FROM tasks WHERE (app_id, id) IN (SELECT t.app_id, t.id ${OLD} WHERE ${EXPIRED})`,
  advance: `UPDATE app_stats SET expired_to = b.high FROM ${RANGES} AS b WHERE app_stats.app_id = b.app`,
};

/** Deletes completed tasks made before COMPLETED_TTL (+ the walk's lag) ago that the wake index never held, in rounds. */
export async function expireOld(db: DB, now: number, lagMs: number, completedTtlMs: number, budget: TickBudget) {
  const d1 = db.$client;
  const upTo = idFloor(now - completedTtlMs - lagMs);
  let deleted = 0;
  const caughtUp = await inRounds(budget, EXPIRY_ROUND_COST, WALK_CHUNK, async () => {
    const { found, json } = await chunk(db, EXPIRY_SQL.chunk, upTo);
    if (found === 0) return 0;
    const [, , gone] = await d1.batch([
      d1.prepare(EXPIRY_SQL.track).bind(json, now),
      d1.prepare(EXPIRY_SQL.counts).bind(json, now),
      d1.prepare(EXPIRY_SQL.delete).bind(json, now),
      d1.prepare(EXPIRY_SQL.advance).bind(json),
    ]);
    deleted += gone.meta.changes;
    return found;
  });
  return { deleted, caughtUp };
}
