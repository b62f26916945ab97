import { replayTask } from '../store/claim';
import type { Scope } from '../scope';
import { replayTasks, type Replayable } from './app-tasks';
import { sendTaskMessagesBestEffort } from './queue-messages';

// Replays: a task, or a stretch of tasks of one status, made due now and the queue nudged about
// them, the one way every caller does it (the API, the dashboard, /v2's DLQ).

/** Makes a task due now (see replayTask) and nudges the queue; 'busy' while an attempt runs, undefined if none. */
export async function replay(s: Scope, id: string, now = Date.now()) {
  const shard = s.shards.of(id);
  const task = shard && (await replayTask(shard.db, s.appId, id, now, s.config.ms.SWEEP_GRACE));
  if (task && task !== 'busy') await sendTaskMessagesBestEffort(s.env, [{ appId: task.appId, id: task.id, dueAt: task.dueAt }], now);
  return task;
}

/** Replays one stretch of the app's tasks of `status` (from `before`, a cursor) and nudges the queue about them. */
export async function replayMany(s: Scope, o: { status: Replayable; before?: string; now?: number }) {
  const now = o.now ?? Date.now();
  const done = await replayTasks(s.shards, s.appId, { status: o.status, now, graceMs: s.config.ms.SWEEP_GRACE, before: o.before });
  await sendTaskMessagesBestEffort(s.env, done.replayed, now);
  return done;
}
