import type { Config } from '../config';
import { mayStart } from '../start-window';
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
 * One claimed task's attempt, on its slot: wait for its flow's start time, read its body if it did
 * not come with the claim, take an outgoing connection, and only then check its start window
 * (../start-window.ts), so the fetch goes out at once; too late, it is held back unstarted.
 */
export async function startAttempt(c: Claimed, startAt: number, deps: StartDeps): Promise<void> {
  const wait = startAt - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
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
  await deps.connections.acquire();
  try {
    if (!mayStart(c.claimedAt, Date.now())) return deps.holdBack(c, { task, dueAt: Date.now() });
    deps.record(c, await attempt(task, deps.cfg, deps.note, deps.qstashKey));
  } finally {
    deps.connections.release();
  }
}
