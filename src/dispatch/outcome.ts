import type { Config } from '../config';
import type { Next, Outcome } from '../store/outcomes';
import type { TaskRow } from '../store/schema';
import { retryDelay } from './backoff';
import { parsePolicy } from '../tasks/retry-policy';
import { callHook, internalFailure, type AttemptResult } from './call';
import { storedRetryDelay } from '../hook/qstash';
import { evalRetryDelay } from '../hook/retry-delay';
import { logEvent } from '../log';

type Policy = Pick<Config, 'MIN_RETRY_DELAY' | 'MAX_RETRY_DELAY'> & { ms: Pick<Config['ms'], 'COMPLETED_TTL' | 'FAILED_TTL'> };

/**
 * What happens to a task after an attempt. `task.attempts` counts attempts started, this one
 * included; since the last replay (retryBase) every one of them failed when this one failed.
 */
export function decideNext(
  task: Pick<TaskRow, 'attempts' | 'maxRetries' | 'retryBase'> & Partial<Pick<TaskRow, 'retryPolicy'>>,
  result: Pick<AttemptResult, 'outcome' | 'retryAfter'>,
  cfg: Policy,
  now: number,
  retryDelayExpression?: string, // a /v2 task's Upstash-Retry-Delay (ms over `retried`)
): Next {
  if (result.outcome === 'ok') return { status: 'completed', expiresAt: now + cfg.ms.COMPLETED_TTL };
  const retriesUsed = task.attempts - task.retryBase - 1;
  // 410 Gone, a refused host and a request that cannot be built will not get better by waiting.
  if (result.outcome === 'gone' || result.outcome === 'blocked' || result.outcome === 'invalid' || retriesUsed >= task.maxRetries) {
    return { status: 'failed', expiresAt: now + cfg.ms.FAILED_TTL };
  }
  const kind = result.outcome === 'network' ? 'network' : 'http';
  const custom = retryDelayExpression === undefined ? null : evalRetryDelay(retryDelayExpression, retriesUsed, cfg.MAX_RETRY_DELAY);
  // Retry-After still lengthens the wait: the destination asked for it.
  // A custom delay is held to the deployment's bounds like any other: never a tight loop below MIN_RETRY_DELAY.
  const delay = custom !== null ? Math.min(Math.max(custom, cfg.MIN_RETRY_DELAY, result.retryAfter ?? 0), cfg.MAX_RETRY_DELAY)
    : retryDelay(kind, task.attempts - task.retryBase, cfg, result.retryAfter, Math.random, parsePolicy(task.retryPolicy));
  return { status: 'retry', dueAt: now + delay * 1000 };
}

/** One attempt, whatever happens inside it: a throw is this task's failed attempt, never the batch's. */
export async function attempt(task: TaskRow, cfg: Config, note: (task: TaskRow, result: AttemptResult) => void, qstashKey?: (appId: string) => Promise<string>): Promise<Outcome> {
  const startedAt = Date.now();
  let result: AttemptResult;
  try {
    result = await callHook(task, cfg.SIGNING_SECRET, cfg, qstashKey);
  } catch (err) {
    result = internalFailure(err, startedAt);
  }
  note(task, result);
  const next = decideNext(task, result, cfg, result.startedAt + result.durationMs, storedRetryDelay(task.headers));
  if (result.outcome !== 'ok') {
    logEvent('attempt.failed', {
      app: task.appId, task: task.id, attempt: task.attempts, outcome: result.outcome, status_code: result.statusCode,
      error: result.error, duration_ms: result.durationMs, next: next.status,
    }, 'warn');
  }
  return { task, ...result, next };
}
