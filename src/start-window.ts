// The timing contract behind "a deleted task is never called after the DELETE answered", in one
// place. The consumer does not read a task's row again before each start (that would cost a D1
// query per attempt); instead every number below bounds one step, and together they close the gap:
//
//   claim (store/claim.ts)        stamps updated_at with the DATABASE's clock: the claim's time t.
//   slot pool (dispatch/slots.ts) a claimed task waits at most POOL_MS for a hook slot, else it is
//                                 handed back unstarted;
//   flow gate (flow/gate.ts)      then at most SOON_MS for its flow's rate slot (a later slot is a
//                                 hold-back, never a wait);
//   attempt (dispatch/start.ts)    holds an outgoing connection before it looks at the clock, checks
//                                 now <= t + START_WINDOW_MS, and only then calls fetch, which
//                                 therefore goes out at once (never into the runtime's queue of
//                                 connections, see dispatch/connections.ts);
//   DELETE (tasks/app-tasks.ts)   that removed a task claimed at t answers at
//                                 t + START_WINDOW_MS + CLOCK_MARGIN_MS: by then the attempt has
//                                 started, or it never will.
//
// So POOL_MS + SOON_MS = START_WINDOW_MS, and a DELETE may wait up to deleteAnswersAt - now.

/** Every attempt a claim covers starts (its fetch is made) within this long of the claim's time, or not at all. */
const START_WINDOW_MS = 2_500;
/** What a DELETE adds to that window for clocks of two Cloudflare machines that disagree a little (and Workers' clock, which moves only at I/O). */
const CLOCK_MARGIN_MS = 250;
/**
 * A task back this close to its flow's rate slot takes it (and keeps its hook slot until then).
 * Queues delays a message by whole seconds, so a task cannot come back exactly at its slot: it
 * is sent back to arrive in the second before it.
 */
export const SOON_MS = 1_500;
/** A claimed task that found no hook slot this long after its claim is handed back (unclaimed, re-sent). */
export const POOL_MS = START_WINDOW_MS - SOON_MS;

/**
 * A start paced by a rate slot that comes later than this after its slot (timers late on a busy
 * isolate, a slow gate answer) does not start: it would crowd the slots after it, and the
 * destination would see more than the rate in a period. It goes back and asks for a new slot (the
 * gate also gives a new slot to a task that comes back this late).
 */
export const PACED_LATE_MS = 100;
/** Whether an attempt paced to `startAt` may still start at `now`. */
export const onPace = (startAt: number, now: number) => now <= startAt + PACED_LATE_MS;

/** Whether an attempt claimed at `claimedAt` (the database's clock) may still start at `now`. */
export const mayStart = (claimedAt: number, now: number) => now <= claimedAt + START_WINDOW_MS;

/** When a DELETE that removed a task claimed at `lastClaim` may answer (null: it removed no claimed task). */
export const deleteAnswersAt = (lastClaim: number | null) => (lastClaim == null ? null : lastClaim + START_WINDOW_MS + CLOCK_MARGIN_MS);
