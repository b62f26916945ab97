import type { Config } from '../config';
import type { DB } from '../store';
import { OUTCOME_STATEMENTS, recordOutcomes, type Outcome } from '../store/outcomes';
import { sendTaskMessagesBestEffort } from '../tasks/queue-messages';
import { callbackRows } from '../tasks/callbacks';
import { isTransient, retryTransient } from '../store/errors';
import type { StatementBudget } from './statements';

const FLUSH_EVERY_MS = 1000;

/**
 * Buffers attempt outcomes and writes them (then re-sends failures) in order, one flush at a time,
 * at most once per FLUSH_EVERY_MS while the invocation's statement budget allows, then at the end.
 */
export function outcomeLog(db: DB, env: Env, cfg: Config, budget: StatementBudget) {
  const graceMs = cfg.ms.SWEEP_GRACE;
  let buffer: Outcome[] = [];
  let last = Date.now();
  let chain = Promise.resolve();
  const write = async (outcomes: Outcome[]) => {
    if (outcomes.length === 0) return;
    let reports: ReturnType<typeof callbackRows> = [];
    try {
      reports = callbackRows(outcomes, cfg, Date.now());
      // A transient D1 failure is tried again (the statements are guarded by the attempt, so a
      // retry after a lost answer changes nothing): left in_progress, the tasks would spend a retry
      // as lease_expired and call their hook again. Each try spends what it sent.
      await retryTransient(async () => {
        try {
          budget.spendFlush(await recordOutcomes(db, outcomes, { graceMs, walkLagMs: cfg.ms.SWEEP_WALK_LAG, deleteCompleted: cfg.COMPLETED_TTL === 0, reports }));
        } catch (err) {
          budget.spendFlush(OUTCOME_STATEMENTS + reports.length); // sent, whatever came back (an upper bound)
          throw err;
        }
      });
    } catch (err) {
      // One outcome that storage refuses for good (a row too big, say) must not sink the others
      // recorded with it, whatever app they belong to: each is written on its own then.
      if (outcomes.length > 1 && !isTransient(err)) {
        for (const o of outcomes) await write([o]);
        return;
      }
      // The tasks stay in_progress; when their lease runs out the sweeper puts them back.
      console.error('recording outcomes failed', err);
      return;
    }
    const again = outcomes.flatMap((o) => (o.next.status === 'retry' ? [{ appId: o.task.appId, id: o.task.id, dueAt: o.next.dueAt }] : []));
    await sendTaskMessagesBestEffort(env, [...again, ...reports.map((r) => ({ appId: r.appId, id: r.id!, dueAt: r.dueAt }))]);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    const outcomes = buffer;
    buffer = [];
    last = Date.now();
    // A flush that fails never stops the ones after it.
    return (chain = chain.then(() => write(outcomes)).catch((err) => console.error('recording outcomes failed', err)));
  };
  return {
    flush,
    /** Buffers an outcome; it is written within FLUSH_EVERY_MS, without holding up attempts. */
    add(o: Outcome): void {
      buffer.push(o);
      // Near the end of the budget, what is left is written once, when the batch ends.
      if (!timer && budget.mayFlushEarly()) timer = setTimeout(flush, Math.max(0, FLUSH_EVERY_MS - (Date.now() - last)));
    },
  };
}

