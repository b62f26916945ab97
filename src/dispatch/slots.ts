import { POOL_MS } from '../start-window';
import type { ClaimedTask } from '../store/claim';
import type { Shard } from '../store/shards';

// Hooks an invocation calls at once. Workers allow 6 outgoing connections per invocation (see
// connections.ts); hooks get 5, so queue sends, alerts and flow gates never wait behind hung hooks.
export const HOOK_CONCURRENCY = 5;
// Slots free up one at a time; waiting this long for more lets one claim statement refill several.
const REFILL_WAIT_MS = 20;
// A claim takes the tasks the free slots can start now and, once attempts have been ending, those
// the slots should start within PLAN_MS at the pace they end: with fast hooks one claim statement
// covers a whole batch, with slow ones a claim is no bigger than the free slots.
export const PLAN_MS = 250;
// A task that cannot start within this long (every slot held by slower hooks) is handed back to
// the queue, so another invocation runs it instead of it waiting behind somebody else's hook.
export const HAND_BACK_AFTER_MS = 1000;

/** A claimed task waiting for a slot. claimedAt: when the database ran the claim (see ../start-window.ts). */
export type Claimed = { task: ClaimedTask; shard: Shard; claimedAt: number };

/** Whether a claimed task's body is read as its attempt starts (too big to come with the claim). */
export const bigBody = (t: ClaimedTask) => t.body == null && !!t.bodyBytes;

/** What the loop does next: claim or start now ('go'), look again ('again'), or stop taking tasks ('give up'). */
export type Step = 'go' | 'again' | 'give up';

/**
 * The invocation's hook slots: the claimed tasks waiting for one (the pool, in claim order), the
 * attempts holding one, and the pace at which they free up, which sizes the next claim.
 */
export function slotPool(size = HOOK_CONCURRENCY, clock = () => Date.now()) {
  const running = new Set<Promise<void>>();
  const pool: Claimed[] = [];
  // How long a slot has been taken per task lately (unknown until an attempt ends).
  let pace: number | undefined;
  let lastStart = clock();
  let freeSince: number | undefined;
  const free = () => size - running.size;
  const until = (ms: number) => Promise.race([...running, new Promise((r) => setTimeout(r, ms))]);

  return {
    free,
    get waiting() {
      return pool.length;
    },
    get pace() {
      return pace;
    },
    /**
     * How many tasks to claim for `slots` free slots: those, plus (once the pace is known) what the
     * slots should start within PLAN_MS. Big bodies are read one per start whatever the claim, so
     * a wave that brought one claims no more than the free slots.
     */
    plan(slots: number, bigBodies: boolean): number {
      return slots + (pace === undefined || bigBodies ? 0 : Math.floor((size * PLAN_MS) / Math.max(pace, 1)));
    },
    add(claimed: Claimed[]): void {
      pool.push(...claimed);
    },
    /** Claimed tasks that found no slot within POOL_MS of their claim, taken out of the pool (to be handed back). */
    stale(now = clock()): Claimed[] {
      const late = pool.filter((c) => now > c.claimedAt + POOL_MS);
      if (late.length) pool.splice(0, pool.length, ...pool.filter((c) => now <= c.claimedAt + POOL_MS));
      return late;
    },
    /**
     * Waits, if it should, before the next claim or start. With no slot free: until a slot frees or
     * the oldest claimed task's hand-back deadline, or gives up when the slots have been held for
     * HAND_BACK_AFTER_MS with nothing claimed. With some free while others run: up to
     * REFILL_WAIT_MS for more to free, so one claim, circuit check and flow admission serve several;
     * but not when a claim just answered (`claimed`): those tasks start at once, their window running.
     */
    async ready(unclaimed: number, claimed = false): Promise<Step> {
      const now = clock();
      if (free() === 0) {
        const wait = pool.length ? Math.min(...pool.map((c) => c.claimedAt)) + POOL_MS + 1 - now : HAND_BACK_AFTER_MS - (now - lastStart);
        if (wait <= 0 && !pool.length) return 'give up';
        await until(Math.max(wait, 1));
        return 'again';
      }
      if (running.size > 0 && !claimed && free() < Math.min(size, unclaimed + pool.length)) {
        freeSince ??= now;
        const wait = REFILL_WAIT_MS - (now - freeSince);
        if (wait > 0) {
          await until(wait);
          return 'again';
        }
      }
      freeSince = undefined;
      return 'go';
    },
    /** The claimed tasks the free slots start now, oldest claim first. */
    take(): Claimed[] {
      lastStart = clock();
      return pool.splice(0, free());
    },
    /** Holds a slot while `work` runs, and learns the pace from how long it held it. */
    occupy(work: () => Promise<void>): void {
      const taken = clock();
      const p: Promise<void> = work().finally(() => {
        const took = clock() - taken;
        // Up at once, down slowly: a slowdown shrinks the next claim at once.
        pace = pace === undefined || took > pace ? took : 0.8 * pace + 0.2 * took;
        running.delete(p);
      });
      running.add(p);
    },
    /** Every attempt started has ended. */
    drain: () => Promise.all(running),
  };
}
