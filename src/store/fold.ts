import { idFloor } from '../ids';
import { enqueuedByMinute } from './counts';
import type { DB } from '.';
import { SWEEP_CHUNK } from './sweep';
import { deletion } from './tasks';
import { waitingWakeSql } from './watch';

// The two walks over new ids (see sweep.ts). Each reads, per app, only the ids made since its last
// walk (the clustered key makes that a range), so its cost follows the enqueue rate, never the
// number of stored tasks. A walk moves an app's cursor only for apps that had rows in the range.

// ?1 the walk's upper id, ?2 now, ?3 grace.
// CROSS JOIN keeps apps as the outer loop, so each app's new ids are one range of the clustered key.
const NEW = `FROM app_stats AS s CROSS JOIN tasks AS t ON t.app_id = s.app_id AND t.id > s.folded_to AND t.id <= ?1`;

export const FOLD_SQL = {
  // Tasks that are still waiting, running or failed join the wake index; completed ones need nothing
  // until the expiry walk. A waiting task is due its lost-message check SWEEP_GRACE after it is due
  // (now, if that has passed: the wake round right after this walk then re-sends it).
  track: `UPDATE tasks SET wake_at = CASE WHEN status IN ('pending', 'retry') THEN ${waitingWakeSql('?2', '?3', false)} ELSE due_at END
    WHERE (app_id, id) IN (SELECT t.app_id, t.id ${NEW} WHERE t.wake_at IS NULL AND t.status <> 'completed')`,
  enqueued: enqueuedByMinute(NEW),
  fold: `UPDATE app_stats SET pending = app_stats.pending + f.pending, in_progress = app_stats.in_progress + f.in_progress,
      retry = app_stats.retry + f.retry, completed = app_stats.completed + f.completed, failed = app_stats.failed + f.failed, folded_to = ?1
    FROM (SELECT t.app_id, sum(t.status = 'pending') AS pending, sum(t.status = 'in_progress') AS in_progress,
            sum(t.status = 'retry') AS retry, sum(t.status = 'completed') AS completed, sum(t.status = 'failed') AS failed
          ${NEW} GROUP BY t.app_id) AS f
    WHERE app_stats.app_id = f.app_id`,
};

/** Counts the tasks made up to `lagMs` ago into app_stats, and hands unfinished ones to the wake index. */
export async function foldNew(db: DB, now: number, lagMs: number, graceMs: number): Promise<void> {
  const d1 = db.$client;
  // Never past the real clock (a sweep run with a clock ahead must not fold ids not yet made).
  const upTo = idFloor(Math.min(now - lagMs, Date.now()));
  await d1.batch([
    d1.prepare(FOLD_SQL.track).bind(upTo, now, graceMs),
    d1.prepare(FOLD_SQL.enqueued).bind(upTo),
    d1.prepare(FOLD_SQL.fold).bind(upTo),
  ]);
}

// ?1 the walk's upper id (never past an app's folded_to), ?2 now.
const OLD = `FROM app_stats AS s CROSS JOIN tasks AS t ON t.app_id = s.app_id AND t.id > s.expired_to AND t.id <= min(?1, s.folded_to)`;
const expired = deletion(`${OLD} WHERE t.status = 'completed' AND t.wake_at IS NULL AND t.due_at <= ?2 AND t.id IN (
  SELECT t.id ${OLD} WHERE t.status = 'completed' AND t.wake_at IS NULL AND t.due_at <= ?2 LIMIT ${SWEEP_CHUNK})`);

export const EXPIRY_SQL = {
  // Nothing but expired completed tasks should be left untracked this far back; anything else is
  // handed to the wake index before the walk moves past it.
  track: `UPDATE tasks SET wake_at = due_at WHERE (app_id, id) IN (
    SELECT t.app_id, t.id ${OLD} WHERE t.wake_at IS NULL AND NOT (t.status = 'completed' AND t.due_at <= ?2))`,
  counts: expired.counts,
  delete: expired.tasks,
  advance: `UPDATE app_stats SET expired_to = min(?1, folded_to)
    WHERE expired_to < min(?1, folded_to) AND EXISTS (SELECT 1 FROM tasks AS t WHERE t.app_id = app_stats.app_id
      AND t.id > app_stats.expired_to AND t.id <= min(?1, app_stats.folded_to))`,
};

/** Deletes completed tasks made before COMPLETED_TTL (+ the walk's lag) ago that the wake index never held. */
export async function expireOld(db: DB, now: number, lagMs: number, completedTtlMs: number, rounds: number): Promise<number> {
  const d1 = db.$client;
  const upTo = idFloor(now - completedTtlMs - lagMs);
  await d1.prepare(EXPIRY_SQL.track).bind(upTo, now).run();
  let deleted = 0;
  for (let i = 0; i < rounds; i++) {
    const [, gone] = await d1.batch([d1.prepare(EXPIRY_SQL.counts).bind(upTo, now), d1.prepare(EXPIRY_SQL.delete).bind(upTo, now)]);
    deleted += gone.results.length;
    if (gone.results.length < SWEEP_CHUNK) {
      await d1.prepare(EXPIRY_SQL.advance).bind(upTo).run();
      break;
    }
  }
  return deleted;
}
