import type { Scope } from '../scope';
import { createSchedule, deleteSchedule, getSchedule, putSchedule, setSchedulePaused, updateSchedule, type NewSchedule, type ScheduleRow } from '../store/schedules';
import { nextRun } from './cron';

// Schedules as the API, /v2 and the dashboard change them: each change one use case here, for the
// caller's app (rows live in the home database). The caller builds and checks the task template.

type App = Pick<Scope, 'appId' | 'shards' | 'config'>;
type Row = Omit<NewSchedule, 'appId'>;

/** Stores a new schedule, held to MAX_SCHEDULES_PER_APP: undefined when the app already has that many. */
export const addSchedule = (s: App, row: Row): Promise<ScheduleRow | undefined> =>
  createSchedule(s.shards.home.db, { appId: s.appId, ...row }, s.config.MAX_SCHEDULES_PER_APP);

/** Creates or replaces a schedule by its id (QStash's upsert), a new one held to MAX_SCHEDULES_PER_APP: false when refused. */
export const saveSchedule = (s: App, row: Row): Promise<boolean> =>
  putSchedule(s.shards.home.db, { appId: s.appId, ...row }, s.config.MAX_SCHEDULES_PER_APP);

/** Changes a schedule; undefined if the app has no such schedule (deleted meanwhile). */
export const changeSchedule = (s: App, id: string, set: Partial<NewSchedule>): Promise<ScheduleRow | undefined> =>
  updateSchedule(s.shards.home.db, s.appId, id, set);

/** Deletes a schedule (the tasks it made stay); false if the app has no such schedule. */
export const removeSchedule = (s: App, id: string): Promise<boolean> => deleteSchedule(s.shards.home.db, s.appId, id);

/**
 * Pauses a schedule (no runs until resumed) or resumes it from now: its next run is computed again,
 * so the runs missed while paused are not fired. Undefined when the app has no such schedule.
 */
export async function setPaused(s: App, id: string, pause: boolean): Promise<ScheduleRow | undefined> {
  const db = s.shards.home.db;
  const now = Date.now();
  if (pause) return setSchedulePaused(db, s.appId, id, true, null, now);
  const found = await getSchedule(db, s.appId, id);
  return found && setSchedulePaused(db, s.appId, found.id, false, nextRun(found.cron, found.timezone, now), now);
}
