import type { Config } from '../config';
import { UNCLAIM_STATEMENTS, unclaimTasks } from '../store/claim';
import { retryTransient } from '../store/errors';
import type { TaskRow } from '../store/schema';
import type { Shard } from '../store/shards';
import { sendTaskMessagesBestEffort } from '../tasks/queue-messages';
import type { StatementBudget } from './statements';

export type Held = { task: TaskRow; dueAt: number };

/**
 * Claimed tasks that may not start (a circuit or flow holds them back, they found no slot in time,
 * or their start window passed) go back to waiting, their attempt count unchanged, and to the
 * queue, due when they may go. In the background, so no slot waits for it; `settled` waits for all.
 */
export function holdBacks(env: Env, cfg: Config, statements: StatementBudget) {
  const pending: Promise<unknown>[] = [];
  return {
    add(shard: Shard, held: Held[]): void {
      if (held.length === 0) return;
      const rows = held.map(({ task, dueAt }) => ({ appId: task.appId, id: task.id, attempts: task.attempts, dueAt }));
      // Each try sends its statements, so each try spends them.
      pending.push(retryTransient(() => (statements.spend(UNCLAIM_STATEMENTS), unclaimTasks(shard.db, rows, Date.now(), cfg.ms.SWEEP_GRACE)))
        .then(() => sendTaskMessagesBestEffort(env, rows))
        // Left in_progress, they are put back by the sweeper once their lease runs out.
        .catch((err) => console.error('holding back tasks failed', err)));
    },
    settled: () => Promise.all(pending),
  };
}
