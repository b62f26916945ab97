import { newId } from '../ids';
import type { DB } from '../store';
import { dueSchedules, fire, FIRE_CHUNK } from '../store/schedules';
import { sendTaskMessagesBestEffort } from '../tasks/queue-messages';
import { nextRun } from './cron';

// A run that can never come again (a date that no longer occurs) parks its schedule here.

/**
 * Turns every schedule due by `now` into one task (in the home database, with its schedule's move
 * in the same transaction), at most `chunks` of FIRE_CHUNK per tick, apps taking turns (see
 * dueSchedules): when more are due than a tick fires, each app's oldest go first and the rest
 * are the oldest of the next tick. A schedule that missed runs (Torque was down, a tick was late)
 * fires once for them and moves on to its next run after now: missed runs are not made up one by one.
 */
export async function fireDueSchedules(env: Env, home: DB, tick: { now: number; chunks: number }): Promise<number> {
  const { now, chunks } = tick;
  // One read in fair order for the whole tick, then fired in chunks.
  const due = await dueSchedules(home, now, chunks * FIRE_CHUNK);
  let made = 0;
  for (let i = 0; i < due.length; i += FIRE_CHUNK) {
    const fires = due.slice(i, i + FIRE_CHUNK).map((s) => ({ appId: s.appId, schedule: s.id, task: newId(now, 0), due: s.nextRunAt, next: nextRun(s.cron, s.timezone, now) }));
    const tasks = await fire(home, fires, now);
    await sendTaskMessagesBestEffort(env, tasks, now);
    made += tasks.length;
  }
  return made;
}
