import type { DB } from '../store';
import type { Shard, Shards } from '../store/shards';
import { peekTasks, type TaskKey } from '../store/tasks';
import { sendTaskMessagesBestEffort, type TaskMessage } from '../tasks/queue-messages';

// Ids one invocation takes on at all: the queues deliver about 100 (see wrangler.toml); more would
// only wait for this invocation's 5 slots, so the rest are sent again for other invocations.
export const MAX_IDS_PER_INVOCATION = 100;

/**
 * The tasks a batch names, once each: those this invocation takes on, and those it hands back
 * (beyond MAX_IDS_PER_INVOCATION). Re-sent rather than retried: a message's retries are few, and
 * one message carries many ids.
 */
export function idsOf(batch: MessageBatch<TaskMessage>, shards: Shards) {
  const keys = new Map<string, TaskKey>();
  const handBack = new Map<string, TaskKey>();
  for (const m of batch.messages) {
    const { ids, app } = (m.body ?? {}) as Partial<TaskMessage>;
    // A malformed message has nothing to do, ever: it is acked with the rest.
    if (!Array.isArray(ids) || typeof app !== 'string') continue;
    for (const id of ids) {
      if (typeof id !== 'string' || keys.has(id) || handBack.has(id)) continue;
      // An id naming no database of this deployment (one dropped from DATABASES without draining
      // it first, see README) can never be run here.
      if (!shards.of(id)) {
        console.error(`task ${id} names a database that is not in DATABASES; its message is dropped`);
        continue;
      }
      (keys.size < MAX_IDS_PER_INVOCATION ? keys : handBack).set(id, { appId: app, id });
    }
  }
  return { keys, handBack };
}

export function byShard<T>(items: T[], shardOf: (item: T) => Shard): Map<Shard, T[]> {
  const groups = new Map<Shard, T[]>();
  for (const k of items) groups.get(shardOf(k))?.push(k) ?? groups.set(shardOf(k), [k]);
  return groups;
}

/**
 * Messages that claimed nothing: early ones are re-sent for when their task is due; a task that is
 * due but was not claimed (its timeout did not fit the remaining budget) goes back to the queue.
 * Everything else (done, deleted, running elsewhere) needs nothing.
 */
export async function settleUnclaimed(db: DB, env: Env, keys: TaskKey[], now: number, handBack: Map<string, TaskKey>): Promise<void> {
  const rows = (await peekTasks(db, keys)).filter((t) => t.status === 'pending' || t.status === 'retry');
  for (const t of rows) if (t.dueAt <= now) handBack.set(t.id, t);
  await sendTaskMessagesBestEffort(env, rows.filter((t) => t.dueAt > now), now);
}
