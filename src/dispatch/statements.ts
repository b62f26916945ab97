import { OUTCOME_STATEMENTS } from '../store/outcomes';

// D1 statements one invocation may send: the platform allows 1,000 queries per invocation; the
// rest is room for the peek of unclaimed tasks and slack.
const D1_STATEMENTS = 900;

export type StatementBudget = ReturnType<typeof statementBudget>;

/**
 * An invocation's D1 statements: each store call spends what it sends (`spend(n)` next to the
 * call), and the consumer stops claiming while what is left could not record what it started.
 */
export function statementBudget(limit = D1_STATEMENTS) {
  let used = 0;
  // The most statements one outcome recording has sent (reports add inserts to the usual ones).
  let flushCost = OUTCOME_STATEMENTS;
  return {
    spend(n: number): void {
      used += n;
    },
    /** Spends an outcome recording's statements, and remembers how big recordings get. */
    spendFlush(n: number): void {
      used += n;
      flushCost = Math.max(flushCost, n);
    },
    get used() {
      return used;
    },
    get limit() {
      return limit;
    },
    /**
     * Whether a claim costing `claimCost` statements, for `tasks` tasks, still leaves enough to read
     * each of their bodies, record an attempt on each of `slots` hook slots (one recording each at worst),
     * and a last recording per database the claim touches.
     */
    mayClaim(claimCost: number, tasks: number, slots: number, databases: number): boolean {
      return used + claimCost + tasks + flushCost * (slots + databases) <= limit;
    },
    /** Whether an outcome recording may go before the batch ends (else what is left goes once, at the end). */
    mayFlushEarly(): boolean {
      return used + 2 * flushCost < limit;
    },
  };
}
