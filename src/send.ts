import type { TaskMessage } from './queue';

/** Queues cannot delay a message by more than 24 h; later tasks wait for the sweeper. */
export const MAX_QUEUE_DELAY = 86_400;
const SEND_BATCH = 100;

/** Nudges the consumer about tasks, each delayed until it is due. Tasks due beyond 24 h are skipped. */
export async function sendTaskMessages(env: Env, due: { id: string; dueAt: number }[], now: number): Promise<void> {
  const messages = due.flatMap((t) => {
    const delay = Math.max(0, Math.ceil((t.dueAt - now) / 1000));
    return delay > MAX_QUEUE_DELAY ? [] : [{ body: { id: t.id } satisfies TaskMessage, delaySeconds: delay }];
  });
  for (let i = 0; i < messages.length; i += SEND_BATCH) {
    await (env.TASKS as Queue<TaskMessage>).sendBatch(messages.slice(i, i + SEND_BATCH));
  }
}
