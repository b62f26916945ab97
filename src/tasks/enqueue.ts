import type { Config } from '../config';
import type { NewTaskRow } from '../store/schema';
import type { Scope } from '../scope';
import { waitingWake } from '../store/waiting-wake';
import { headerProblem, passthroughProblem } from '../hook/headers';
import { hostRefusal } from '../hook/hosts';
import { retryPolicy, retryPolicyProblem, policyText, type RetryPolicyInput } from './retry-policy';

/** How far ahead a first attempt may be put (delay, not_before): a year. */
const MAX_DELAY_S = 31_536_000;

/** A task that cannot be accepted as given: the edge answers it as a 4xx naming the field. */
export class TaskInputError extends Error {
  override name = 'TaskInputError';
  constructor(readonly field: string, message: string, readonly tooLarge = false) {
    super(`${field}: ${message}`);
  }
}

export interface TaskInput {
  url: string;
  method?: string;
  timeout?: number;
  delay?: number;
  /** Unix ms: the first attempt's time (not with delay). */
  notBefore?: number;
  max_retries?: number;
  /** The task's retry policy (seconds), within MIN_RETRY_DELAY..MAX_RETRY_DELAY; unset parts default to those. */
  retry?: RetryPolicyInput;
  headers?: Record<string, string>;
  body: Uint8Array | null;
  contentType: string | null;
  idempotencyKey?: string;
  flowKey?: string;
  /** URLs told of the outcome (see tasks/callbacks.ts). */
  callback?: string;
  failureCallback?: string;
}

// A client's idempotency key: no control characters (none can travel in an HTTP header anyway),
// which leaves the keys Torque derives (see tasks/idempotent.ts) a namespace no client reaches.
const CLIENT_KEY = /^[^\x00-\x1f\x7f]{1,256}$/;

/**
 * A task due soon needs no sweeper index entry (the sweeper's walk over new ids checks it); one due
 * later than that walk is tracked from the start: looked at a minute before it is due when that is
 * beyond Queues' 24 h delay (its message goes then), else SWEEP_GRACE after it is due.
 */
function trackDelayed(due: number, now: number, ms: Config['ms']): number | null {
  return due - now > ms.SWEEP_WALK_LAG ? waitingWake(due, now, ms.SWEEP_GRACE) : null;
}

/**
 * Builds the row for a validated task, applying config defaults and limits (its id comes with its
 * database). `field` prefixes the field a refusal names (`[2].`, `endpoints[0].`).
 */
export function buildTask(s: Pick<Scope, 'appId' | 'config'>, input: TaskInput, at: { now: number; field?: string }): Omit<NewTaskRow, 'id'> {
  const { config: cfg, appId } = s;
  const { now, field = '' } = at;
  const timeout = input.timeout ?? cfg.DEFAULT_TIMEOUT;
  if (timeout > cfg.MAX_TIMEOUT) throw new TaskInputError(`${field}timeout`, `must be at most ${cfg.MAX_TIMEOUT}`);
  for (const [name, url] of [['url', input.url], ['callback', input.callback], ['failure_callback', input.failureCallback]] as const) {
    const refusal = url === undefined ? null : hostRefusal(url, cfg);
    if (refusal) throw new TaskInputError(`${field}${name}`, refusal);
  }
  if (input.body && input.body.length > cfg.MAX_BODY_BYTES) {
    throw new TaskInputError(`${field}body`, `larger than ${cfg.MAX_BODY_BYTES} bytes`, true);
  }
  // Every header is checked here exactly as the runtime will check it at call time, so a task that
  // could never be sent is refused now instead of failing (or worse) in the consumer.
  const bad = passthroughProblem(input.headers ?? {});
  if (bad) throw new TaskInputError(`${field}headers${bad[0] ? `.${bad[0]}` : ''}`, bad[1]);
  if (input.idempotencyKey !== undefined && !CLIENT_KEY.test(input.idempotencyKey)) {
    throw new TaskInputError(`${field}idempotency_key`, 'must be 1 to 256 characters, none of them a control character');
  }
  const typeProblem = input.contentType === null ? null : headerProblem('content-type', input.contentType);
  if (typeProblem) throw new TaskInputError(`${field}content-type`, typeProblem);
  const headers = input.headers && Object.keys(input.headers).length ? JSON.stringify(input.headers) : null;
  const due = firstAttempt(input, now, field);
  const policy = retryPolicy(input.retry, cfg);
  const policyBad = policy && retryPolicyProblem(policy, cfg);
  if (policyBad) throw new TaskInputError(`${field}${policyBad[0]}`, policyBad[1]);
  return {
    appId,
    url: input.url,
    method: input.method ?? 'POST',
    headers,
    // A view of the request's bytes, not a copy (a body may be 1 MiB).
    body: input.body ? Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength) : null,
    contentType: input.contentType,
    status: 'pending',
    attempts: 0,
    maxRetries: input.max_retries ?? cfg.MAX_RETRIES,
    timeout,
    createdAt: now,
    updatedAt: now,
    dueAt: due,
    wakeAt: trackDelayed(due, now, cfg.ms),
    idempotencyKey: input.idempotencyKey ?? null,
    flowKey: input.flowKey ?? null,
    callbackUrl: input.callback ?? null,
    failureCallbackUrl: input.failureCallback ?? null,
    retryPolicy: policyText(policy),
  };
}

/** When the first attempt is due: after `delay`, or at `not_before` (now, if that has passed). */
function firstAttempt(input: TaskInput, now: number, field: string): number {
  if (input.notBefore === undefined) return now + (input.delay ?? 0) * 1000;
  if (input.delay !== undefined) throw new TaskInputError(`${field}not_before`, 'give delay or not_before, not both');
  if (input.notBefore > now + MAX_DELAY_S * 1000) throw new TaskInputError(`${field}not_before`, `must be at most ${MAX_DELAY_S} seconds (a year) ahead`);
  return Math.max(now, input.notBefore);
}

export { enqueue, publish, type Enqueued, type KeyGone } from './idempotent';
