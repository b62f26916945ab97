// How much the sweeper does per tick: rounds sized by the work they find, under one budget shared
// by every database of the invocation.
//
// A round reads the work waiting, up to a chunk, and acts on all it found in one transaction; a
// full chunk means more is waiting, so another round follows. Chunks are as big as D1's limits
// comfortably allow: a wake round names its rows as one JSON parameter (~50-100 bytes a key, so
// 10,000 keys stay well under D1's 2,000,000 bytes per value); a walk round names only a range per
// app, so its chunk is bounded by statement time: 50,000 rows take ~0.5 s of local D1 time, far
// from D1's 30 s per query (`npm run bench -- sweep` prints the slowest call). Rounds go on while
// chunks come back full, the invocation has queries left (D1 allows 1,000 per invocation; each
// statement of a batch is counted as one, to be safe) and the tick has time left (the next tick
// comes in a minute).
export const WAKE_CHUNK = 10_000;
export const WALK_CHUNK = 50_000;
// Queries per round (a read, then its batch): the roll-up walk's 3 statements, the expiry walk's 4,
// a wake round's 10 (store/walks.ts, store/sweep.ts).
export const ROLLUP_ROUND_COST = 4;
export const EXPIRY_ROUND_COST = 5;
export const WAKE_ROUND_COST = 11;
/** D1 queries one sweep may send for tasks (the rest of D1's 1,000 is for schedules and stats). */
export const SWEEP_QUERIES = 800;
/** Wall time one sweep gives task work, so a tick ends before the next one starts. */
const SWEEP_TICK_MS = 40_000;

/** What the sweep may still spend, shared by every database it sweeps. */
export type TickBudget = { queries: number; deadline: number };

export const tickBudget = (now = Date.now()): TickBudget => ({ queries: SWEEP_QUERIES, deadline: now + SWEEP_TICK_MS });

/**
 * Runs `round()` (which returns how many rows it found, at most `chunk`) while rounds come back
 * full and the budget allows `cost` more queries. Returns whether the work was caught up.
 */
export async function inRounds(budget: TickBudget, cost: number, chunk: number, round: () => Promise<number>): Promise<boolean> {
  while (budget.queries >= cost && Date.now() < budget.deadline) {
    budget.queries -= cost;
    if ((await round()) < chunk) return true;
  }
  return false;
}
