import type { Config } from '../config';
import type { RetryPolicy } from '../tasks/retry-policy';

export type FailureKind = 'network' | 'http';

// Retries are spread by up to this fraction either way, so a thousand tasks failing in the same
// second (a destination going down) do not all come back in the same second.
const JITTER = 0.2;

/**
 * Seconds (to the millisecond) to wait before the next attempt after `failures` failed attempts
 * (1 for the first). Network errors and timeouts back off linearly, HTTP errors exponentially,
 * each spread by ±JITTER, always within [MIN_RETRY_DELAY, MAX_RETRY_DELAY]. A hook's own
 * Retry-After (honoured on 429/503 by the caller) can only lengthen the wait. A task's (or its
 * flow's) retry policy chooses the growth and narrows the bounds (see tasks/retry-policy.ts).
 */
export function retryDelay(
  kind: FailureKind,
  failures: number,
  cfg: Pick<Config, 'MIN_RETRY_DELAY' | 'MAX_RETRY_DELAY'>,
  retryAfter?: number | null,
  random: () => number = Math.random,
  policy: RetryPolicy | null = null,
): number {
  const n = Math.max(1, failures);
  const lo = Math.max(cfg.MIN_RETRY_DELAY, policy?.min ?? 0);
  const hi = Math.min(cfg.MAX_RETRY_DELAY, policy?.max ?? Infinity);
  const backoff = policy?.backoff ?? (kind === 'network' ? 'linear' : 'exponential');
  const base = backoff === 'fixed' ? lo : backoff === 'linear' ? lo * n : lo * 2 ** Math.min(n - 1, 60);
  const spread = Math.min(base, hi) * (1 + JITTER * (2 * random() - 1));
  const wanted = retryAfter != null && retryAfter > spread ? retryAfter : spread;
  return Math.round(1000 * Math.max(lo, Math.min(wanted, hi))) / 1000;
}

/** Parses a Retry-After header (delta-seconds or HTTP date) into seconds from `now`. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const when = Date.parse(v);
  if (Number.isNaN(when)) return null;
  return Math.max(0, Math.ceil((when - now) / 1000));
}
