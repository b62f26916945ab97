import { shardOfId } from '../ids';
import { MAX_QUEUE_DELAY_S } from '../platform';
import type { Due } from '../store/tasks';

/**
 * A queue message: tasks of one app to look at. D1 holds the tasks; a message is only a nudge, and
 * one message carries up to IDS_PER_MESSAGE ids, so a batch enqueue costs a few queue operations
 * instead of three per task. On the wire the app id is `app` (messages already queued keep their
 * shape across a deploy); in code a task key says `appId`, as the task row does.
 */
export type TaskMessage = { app: string; ids: string[] };

// ~30 bytes an id: far inside a message's 128 KB, and the 64 KB a queue operation is billed per.
const IDS_PER_MESSAGE = 100;
const SEND_BATCH = 100; // messages per sendBatch call (the platform's maximum)

// Optional per-database task queues: TASKS_k, if bound, carries the single-task messages of DB_k's
// tasks (TASKS those of DB, and of any database without its own), so a consumer batch holds one
// database's tasks: one claim and one outcome write per batch instead of one per database touched.
// They are not in wrangler.toml's default deploy, so the generated Env does not declare them:
// they are read here, by name, as possibly absent (see docs/scaling.md, "Adding a database").
type DatabaseQueues = Partial<Record<`TASKS_${number}`, Queue<TaskMessage>>>;
const DATABASE_QUEUE = /^TASKS_[1-9]\d?$/;

/** The queue (binding name and binding) for a single-task message: its database's own TASKS_k if bound, else TASKS. */
export function taskQueueOf(env: Env, id: string): [string, Queue<TaskMessage>] {
  const n = shardOfId(id) ?? 0; // 0: DB, whose queue is TASKS
  const own = n > 0 ? (env as unknown as DatabaseQueues)[`TASKS_${n}`] : undefined;
  return typeof own?.send === 'function' ? [`TASKS_${n}`, own] : ['TASKS', env.TASKS as Queue<TaskMessage>];
}

/** The names of the per-database queues bound (TASKS_1, ...), for wrappers that must see every queue. */
export const databaseQueueNames = (env: Env) => Object.keys(env).filter((k) => DATABASE_QUEUE.test(k)) as `TASKS_${number}`[];

/** Sends messages for tasks, grouped by app and delay (until due). Tasks due beyond 24 h are skipped. */
async function sendTaskMessages(env: Env, due: Due[], now: number): Promise<void> {
  const groups = new Map<string, { app: string; delay: number; ids: string[] }>();
  for (const t of due) {
    const delay = Math.max(0, Math.ceil((t.dueAt - now) / 1000));
    if (delay > MAX_QUEUE_DELAY_S) continue; // the sweeper sends it in the minute before it is due
    const key = `${delay} ${t.appId}`;
    const group = groups.get(key) ?? { app: t.appId, delay, ids: [] };
    group.ids.push(t.id);
    groups.set(key, group);
  }
  const messages = [...groups.values()].flatMap((g) =>
    Array.from({ length: Math.ceil(g.ids.length / IDS_PER_MESSAGE) }, (_, i) => ({
      body: { app: g.app, ids: g.ids.slice(i * IDS_PER_MESSAGE, (i + 1) * IDS_PER_MESSAGE) } satisfies TaskMessage,
      delaySeconds: g.delay,
    })),
  );
  // Single ids go to their database's queue (TASKS unless it has its own), bulk messages to
  // TASKS_BULK (see wrangler.toml): every consumer invocation then gets about 100 ids.
  // (By binding name: a test may bind one queue under several names.)
  const queues = new Map<string, { queue: Queue<TaskMessage>; list: typeof messages }>();
  for (const m of messages) {
    const [name, queue] = m.body.ids.length === 1 ? taskQueueOf(env, m.body.ids[0]) : ['TASKS_BULK', env.TASKS_BULK as Queue<TaskMessage>];
    queues.get(name)?.list.push(m) ?? queues.set(name, { queue, list: [m] });
  }
  for (const { queue, list } of queues.values()) {
    // (One message, the usual POST /, goes by send(): the runtime does less for it than for a batch.)
    if (list.length === 1) await queue.send(list[0].body, { delaySeconds: list[0].delaySeconds });
    else for (let i = 0; i < list.length; i += SEND_BATCH) await queue.sendBatch(list.slice(i, i + SEND_BATCH));
  }
}

/**
 * Sends queue messages for tasks already stored, and never throws: D1 is the truth, so if the
 * queue is down the tasks are still accepted, and the sweeper sends them once it finds them
 * waiting (SWEEP_GRACE after they are due).
 */
export async function sendTaskMessagesBestEffort(env: Env, due: Due[], now = Date.now()): Promise<void> {
  try {
    await sendTaskMessages(env, due, now);
  } catch (err) {
    console.error(`queue send of ${due.length} task(s) failed; the sweeper will send them`, err);
  }
}
