import { MAX_QUEUE_DELAY_MS } from '../platform';

// When the sweeper must next look at a waiting (pending/retry) task: the one rule for its message
// being lost. A task due beyond Queues' 24 h delay cannot be messaged yet: it is looked at a minute
// before it is due, and its message goes then. Otherwise it is looked at SWEEP_GRACE after it is
// due; one whose message was just (re)sent, SWEEP_GRACE after that send; one found overdue by more
// than that and never checked, at once.
const COMING_DUE_MS = 60_000;

/** For a task whose message is being sent now (enqueue with a delay, a retry). */
export function waitingWake(due: number, now: number, graceMs: number): number {
  return due - now > MAX_QUEUE_DELAY_MS ? due - COMING_DUE_MS : Math.max(due, now) + graceMs;
}

/**
 * The same rule in SQL over `due` (default the row's `due_at`); `sentNow` false for a first check
 * of a task not just sent.
 */
export function waitingWakeSql(now: string, grace: string, sentNow: boolean, due = 'due_at'): string {
  const later = sentNow ? `max(${due}, ${now}) + ${grace}` : `max(${due} + ${grace}, ${now})`;
  return `CASE WHEN ${due} > ${now} + ${MAX_QUEUE_DELAY_MS} THEN ${due} - ${COMING_DUE_MS} ELSE ${later} END`;
}
