import { CLAIM_STATEMENTS, claimTasks, releaseLostClaim, UNCLAIM_STATEMENTS } from '../store/claim';
import type { Shard } from '../store/shards';
import type { TaskKey } from '../store/tasks';
import { byShard } from './messages';
import { bigBody, type Claimed } from './slots';
import type { StatementBudget } from './statements';

// A lost answer's claim is put back at once, and again after these pauses if D1 is still failing.
const RELEASE_RETRIES_MS = [1_000, 3_000];

/** What one claim wave came to, over every database it touched. */
export type Wave = {
  claimed: Claimed[];
  /** Keys the claim did not take (not due, done, deleted, running elsewhere): settled later. */
  notClaimed: TaskKey[];
  /** Databases whose claim failed: their tasks come back with the message's retry. */
  failed: Shard[];
  /** Whether a claimed task's body is read as it starts (then claiming ahead saves nothing). */
  bigBodies: boolean;
};

/**
 * Claims `keys` (in message order), one claim per database at once. A database that fails to claim
 * fails alone; what its claim may have committed although the answer was lost is put back in the
 * background (`releasing`), so the message's redelivery finds those tasks waiting, not stranded
 * in_progress until their lease runs out.
 */
export async function claimWave(
  keys: TaskKey[],
  shardOf: (k: TaskKey) => Shard,
  opts: { graceMs: number; budgetEnd: number; statements: StatementBudget; releasing: Promise<unknown>[] },
): Promise<Wave> {
  const wave: Wave = { claimed: [], notClaimed: [], failed: [], bigBodies: false };
  await Promise.all([...byShard(keys, shardOf)].map(async ([shard, mine]) => {
    const now = Date.now();
    opts.statements.spend(CLAIM_STATEMENTS);
    try {
      const claimed = await claimTasks(shard.db, mine, now, opts.graceMs, opts.budgetEnd - now);
      const got = new Set(claimed.map((t) => t.id));
      wave.notClaimed.push(...mine.filter((k) => !got.has(k.id)));
      const order = new Map(mine.map((k, i) => [k.id, i])); // in message order, not the table's
      claimed.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
      wave.claimed.push(...claimed.map((task) => ({ task, shard, claimedAt: task.updatedAt })));
    } catch (err) {
      console.error(`claim failed in ${shard.binding}`, err);
      wave.failed.push(shard);
      opts.releasing.push(releaseLost(shard, mine, now, opts.graceMs, opts.statements));
    }
  }));
  // Over the whole wave: any database's claim that brought a big body counts.
  wave.bigBodies = wave.claimed.some((c) => bigBody(c.task));
  return wave;
}

async function releaseLost(shard: Shard, keys: TaskKey[], now: number, graceMs: number, statements: StatementBudget) {
  for (let i = 0; ; i++) {
    try {
      statements.spend(1 + UNCLAIM_STATEMENTS); // the read, and the unclaim
      const n = await releaseLostClaim(shard.db, keys, now, graceMs);
      if (n) console.error(`${n} task(s) of a claim whose answer was lost in ${shard.binding} are waiting again`);
      return;
    } catch (err) {
      if (i >= RELEASE_RETRIES_MS.length) {
        // Left in_progress, they are put back by the sweeper once their lease runs out.
        return console.error(`putting back a failed claim in ${shard.binding} failed`, err);
      }
      await new Promise((r) => setTimeout(r, RELEASE_RETRIES_MS[i]));
    }
  }
}
