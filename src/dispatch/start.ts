import type { Config } from '../config';
import { mayStart, onPace } from '../start-window';
import { claimedBody } from '../store/claim';
import { isTransient, RETRY_AFTER_S } from '../store/errors';
import type { Outcome } from '../store/outcomes';
import type { TaskRow } from '../store/schema';
import type { AttemptResult } from './call';
import type { Connections } from './connections';
import type { Held } from './hold-back';
import { attempt } from './outcome';
import { bigBody, type Claimed } from './slots';
import type { StatementBudget } from './statements';

export type StartDeps = {
  cfg: Config;
  connections: Connections;
  statements: StatementBudget;
  note: (task: TaskRow, result: AttemptResult) => void;
  /** The app's current QStash signing key, for /v2 tasks. */
  qstashKey: (appId: string) => Promise<string>;
  record: (c: Claimed, outcome: Outcome) => void;
  holdBack: (c: Claimed, held: Held) => void;
};

/**
 * One claimed task's attempt, on its slot: read its body if it did not come with the claim, wait
 * for its flow's start time, take an outgoing connection, and only then check its start window and
 * its pace (../start-window.ts), so the fetch goes out at once; too late, it is held back unstarted.
 */
export async function startAttempt(c: Claimed, { startAt, paced }: { startAt: number; paced: boolean }, deps: StartDeps): Promise<void> {
  let task: TaskRow = c.task;
  if (bigBody(c.task)) {
    deps.statements.spend(1);
    let row: { body: unknown } | null;
    try {
      row = await claimedBody(c.shard.db, c.task);
    } catch (err) {
      // A transient D1 failure hands the task back (its attempt not spent); anything else leaves
      // it claimed until its lease runs out.
      console.error(`task ${c.task.id}: its body could not be read`, err);
      if (isTransient(err)) deps.holdBack(c, { task: c.task, dueAt: Date.now() + RETRY_AFTER_S * 1000 });
      return;
    }
    if (!row) return; // deleted since its claim: nothing to do
    task = { ...c.task, body: row.body as TaskRow['body'] };
  }
  // The body is read before the wait, so a paced start is on its slot, not a read later.
  const wait = startAt - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  await deps.connections.acquire();
  try {
    const now = Date.now();
    // Too late for its claim's window, or (paced by a rate) for its slot: it goes back unstarted.
    if (!mayStart(c.claimedAt, now) || (paced && !onPace(startAt, now))) return deps.holdBack(c, { task, dueAt: now });
    deps.record(c, await attempt(task, deps.cfg, deps.note, deps.qstashKey));
  } finally {
    deps.connections.release();
  }
}
