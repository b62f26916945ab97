import type { DB } from '../store';
import { getSchedule, setSchedulePaused, type ScheduleRow } from '../store/schedules';
import { nextRun } from './cron';

/**
 * Pauses a schedule (no runs until resumed) or resumes it from now: its next run is computed again,
 * so the runs missed while paused are not fired. The API, /v2 and the dashboard all come here.
 * Undefined when the app has no such schedule.
 */
export async function setPaused(db: DB, appId: string, id: string, pause: boolean, now = Date.now()): Promise<ScheduleRow | undefined> {
  if (pause) return setSchedulePaused(db, appId, id, true, null, now);
  const found = await getSchedule(db, appId, id);
  return found && setSchedulePaused(db, appId, found.id, false, nextRun(found.cron, found.timezone, now), now);
}
