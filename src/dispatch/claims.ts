import { CLAIM_STATEMENTS, claimTasks, releaseLostClaim, UNCLAIM_STATEMENTS } from '../store/claim';
import type { Shard } from '../store/shards';
import type { TaskKey } from '../store/tasks';
import { byShard } from './messages';
import { bigBody, type Claimed } from './slots';
import type { StatementBudget } from './statements';

// A lost answer's claim is put back at once, and again after these pauses if D1 is still failing.
const RELEASE_RETRIES_MS = [1_000, 3_000];

/** What one database's claim came to. */
export type Answer = {
  shard: Shard;
  /** The keys this claim asked this database for. */
  asked: TaskKey[];
  claimed: Claimed[];
  /** Keys the claim did not take (not due, done, deleted, running elsewhere): settled later. */
  notClaimed: TaskKey[];
  /** The claim failed: its tasks come back with the message's retry. */
  failed: boolean;
  /** Whether a claimed task's body is read as it starts (then claiming ahead saves nothing). */
  bigBodies: boolean;
};

/** What every claim of an invocation needs: the lease grace, when its budget ends, its statement budget, and where lost claims' put-backs go. */
type ClaimOptions = { graceMs: number; budgetEnd: number; statements: StatementBudget; releasing: Promise<unknown>[] };

/**
 * Claim waves: one claim per database a wave touches, all sent at once, each answer handed to the
 * consumer as it comes (`answered`), so a database that answers early has its tasks started while
 * a slower one is still in its line: waiting for the slowest would spend the others' start windows.
 * A database that fails to claim fails alone; what its claim may have committed although the answer
 * was lost is put back in the background (`releasing`), so the message's redelivery finds those
 * tasks waiting, not stranded in_progress until their lease runs out.
 */
export function claims(shardOf: (k: TaskKey) => Shard, opts: ClaimOptions) {
  const inFlight = new Set<Promise<void>>();
  const answers: Answer[] = [];
  return {
    /** Claims whose answer the consumer has not taken yet (unanswered, or not yet `answered()`). */
    get pending() {
      return inFlight.size + answers.length;
    },
    /** Sends one claim per database for `keys` (in message order); does not wait for them. */
    send(keys: TaskKey[]): void {
      for (const [shard, mine] of byShard(keys, shardOf)) {
        const p = claimIn(shard, mine, opts).then((a) => void answers.push(a)).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    },
    /** The answers that came since the last call, in the order they came. */
    answered: (): Answer[] => answers.splice(0),
    /** Resolves when an answer is there to take (at once if one is). */
    next: async (): Promise<void> => {
      if (answers.length === 0 && inFlight.size) await Promise.race([...inFlight]);
    },
  };
}

async function claimIn(shard: Shard, mine: TaskKey[], opts: ClaimOptions): Promise<Answer> {
  const now = Date.now();
  opts.statements.spend(CLAIM_STATEMENTS);
  try {
    const claimed = await claimTasks(shard.db, mine, now, opts.graceMs, opts.budgetEnd - now);
    const got = new Set(claimed.map((t) => t.id));
    const order = new Map(mine.map((k, i) => [k.id, i])); // in message order, not the table's
    claimed.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    return {
      shard, asked: mine, failed: false, notClaimed: mine.filter((k) => !got.has(k.id)),
      claimed: claimed.map((task) => ({ task, shard, claimedAt: task.updatedAt })),
      bigBodies: claimed.some(bigBody),
    };
  } catch (err) {
    console.error(`claim failed in ${shard.binding}`, err);
    opts.releasing.push(releaseLost(shard, mine, now, opts.graceMs, opts.statements));
    return { shard, asked: mine, failed: true, notClaimed: [], claimed: [], bigBodies: false };
  }
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
