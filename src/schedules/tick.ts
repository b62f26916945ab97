import { newId } from '../ids';
import type { DB } from '../store';
import { dueSchedules, fire, FIRE_CHUNK } from '../store/schedules';
import { nudge } from '../tasks/nudge';
import { nextRun } from './cron';

// A run that can never come again (a date that no longer occurs) parks its schedule here.
const NEVER = 8_640_000_000_000_000;

/**
 * Turns every schedule due by `now` into one task (in the home database, with its schedule's move
 * in the same transaction), in chunks, at most `chunks` of FIRE_CHUNK per tick. A schedule that
 * missed runs (Torque was down, a tick was late) fires once for them and moves on to its next run
 * after now: missed runs are not made up one by one.
 */
export async function fireDueSchedules(env: Env, home: DB, now: number, chunks: number): Promise<number> {
  let made = 0;
  for (let i = 0; i < chunks; i++) {
    const due = await dueSchedules(home, now);
    if (due.length === 0) break;
    const fires = due.map((s) => ({ app: s.appId, schedule: s.id, task: newId(now, 0), due: s.nextRunAt, next: nextRun(s.cron, s.timezone, now) ?? NEVER }));
    const tasks = await fire(home, fires, now);
    await nudge(env, tasks, now);
    made += tasks.length;
    if (due.length < FIRE_CHUNK) break;
  }
  return made;
}
