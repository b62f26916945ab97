import type { TaskKey } from './db/tasks';

/** A queue message: which task to look at. D1 holds the task; the message is only a nudge. */
export type TaskMessage = TaskKey;

/** Queues cannot delay a message by more than 24 h; later tasks wait for the sweeper. */
export const MAX_QUEUE_DELAY = 86_400;
const SEND_BATCH = 100;

/** Nudges the consumer about tasks, each delayed until it is due. Tasks due beyond 24 h are skipped. */
export async function sendTaskMessages(env: Env, due: (TaskKey & { dueAt: number })[], now: number): Promise<void> {
  const messages = due.flatMap((t) => {
    const delay = Math.max(0, Math.ceil((t.dueAt - now) / 1000));
    return delay > MAX_QUEUE_DELAY ? [] : [{ body: { app: t.app, id: t.id } satisfies TaskMessage, delaySeconds: delay }];
  });
  for (let i = 0; i < messages.length; i += SEND_BATCH) {
    await (env.TASKS as Queue<TaskMessage>).sendBatch(messages.slice(i, i + SEND_BATCH));
  }
}
