import { getConfig } from './config';
import { openDb, type DB } from './db';
import { recordOutcomes, type Outcome } from './db/outcomes';
import type { TaskRow } from './db/schema';
import { claimTasks, peekTasks } from './db/tasks';
import { callHook, internalFailure, type AttemptResult } from './hook/call';
import { decideNext } from './hook/outcome';
import { sendTaskMessages } from './send';

export type TaskMessage = { id: string };

// Workers allow 6 simultaneous outgoing connections per invocation; a 7th fetch would wait
// while its deadline ran, so attempts are started through a pool of exactly 6.
export const HOOK_CONCURRENCY = 6;

async function pool<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
}

/** Messages that claimed nothing because they came early get re-sent for when the task is due. */
async function resendEarly(db: DB, env: Env, ids: string[], now: number): Promise<void> {
  const early = (await peekTasks(db, ids)).filter(
    (t) => (t.status === 'pending' || t.status === 'retry') && t.dueAt > now,
  );
  await sendTaskMessages(env, early, now);
}

export const FLUSH_EVERY_MS = 1000;

/**
 * Buffers attempt outcomes and writes them (then re-sends failures) in order, one flush at a time.
 * A flush needs at least one new outcome, so a batch of 100 makes at most 100 flushes of at most
 * 3 statements: always inside D1's 1,000 queries per invocation.
 */
function outcomeLog(db: DB, env: Env) {
  let buffer: Outcome[] = [];
  let last = Date.now();
  let chain = Promise.resolve();
  const write = async (outcomes: Outcome[]) => {
    if (outcomes.length === 0) return;
    const now = Date.now();
    try {
      await recordOutcomes(db, outcomes, now);
    } catch (err) {
      // The tasks stay in_progress; when their lease runs out the sweeper puts them back.
      console.error('recording outcomes failed', err);
      return;
    }
    const again = outcomes.flatMap((o) =>
      o.next.status === 'retry' || o.next.status === 'released' ? [{ id: o.task.id, dueAt: o.next.dueAt }] : [],
    );
    await sendTaskMessages(env, again, now).catch((err) => console.error('re-send failed; the sweeper will pick these up', err));
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    const outcomes = buffer;
    buffer = [];
    last = Date.now();
    return (chain = chain.then(() => write(outcomes)));
  };
  return {
    flush,
    /** Buffers an outcome; it is written within FLUSH_EVERY_MS, without holding up attempts. */
    add(o: Outcome): void {
      buffer.push(o);
      if (!timer) timer = setTimeout(flush, Math.max(0, FLUSH_EVERY_MS - (Date.now() - last)));
    },
  };
}

export async function handleQueue(batch: MessageBatch<TaskMessage>, env: Env): Promise<void> {
  const cfg = getConfig(env);
  const db = openDb(env.DB);
  const start = Date.now();
  const ids = [...new Set(batch.messages.map((m) => m.body?.id).filter((id) => typeof id === 'string'))];

  let claimed: TaskRow[];
  try {
    // The lease must outlast the whole invocation, not one attempt: a claimed task may wait in the
    // pool behind others. Attempts never run past the budget, so budget + grace is always enough,
    // and a task is only ever recovered from a worker that really died.
    claimed = await claimTasks(db, ids, start, (cfg.CONSUMER_BUDGET + cfg.SWEEP_GRACE) * 1000);
  } catch (err) {
    // Nothing was claimed; let the queue redeliver. If it gives up, the sweeper re-sends.
    console.error('claim failed', err);
    batch.retryAll({ delaySeconds: 5 });
    return;
  }

  const claimedIds = new Set(claimed.map((t) => t.id));
  const unclaimed = ids.filter((id) => !claimedIds.has(id));
  // Early messages are a side path: if this fails the sweeper still covers those tasks.
  const early = resendEarly(db, env, unclaimed, start).catch((err) => console.error('early re-send failed', err));

  // Outcomes are recorded as they come in, at most once a second: a fast batch is recorded with
  // one statement, while in a slow one a finished attempt is never left unrecorded for long (if
  // the invocation died, an unrecorded success would be delivered again after the lease).
  const log = outcomeLog(db, env);
  // An invocation may run 15 minutes. An attempt that could not finish inside the budget is not
  // started; its claim is handed back and it is re-sent to run in a fresh invocation.
  const budgetEnd = start + cfg.CONSUMER_BUDGET * 1000;
  await pool(claimed, HOOK_CONCURRENCY, async (task) => {
    if (Date.now() + task.timeout * 1000 > budgetEnd) {
      const now = Date.now();
      return log.add({ task, startedAt: now, durationMs: 0, statusCode: null, error: null, response: null, next: { status: 'released', dueAt: now } });
    }
    // Whatever throws for one task is that task's failed attempt, never the batch's: an escaped
    // exception would end the invocation and strand every task claimed with it.
    const startedAt = Date.now();
    let result: AttemptResult;
    try {
      result = await callHook(task, cfg.SIGNING_SECRET, cfg);
    } catch (err) {
      result = internalFailure(err, startedAt);
    }
    return log.add({ task, ...result, next: decideNext(task, result, cfg, result.startedAt + result.durationMs) });
  });
  await log.flush();
  await early;
  batch.ackAll();
}
