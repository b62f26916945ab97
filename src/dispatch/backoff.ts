import type { Config } from '../config';

export type FailureKind = 'network' | 'http';

/**
 * Seconds to wait before the next attempt after `failures` failed attempts (1 for the first).
 * Network errors and timeouts back off linearly, HTTP errors exponentially; both are capped.
 * A hook's own Retry-After (honoured on 429/503 by the caller) can only lengthen the wait.
 */
export function retryDelay(
  kind: FailureKind,
  failures: number,
  cfg: Pick<Config, 'MIN_RETRY_DELAY' | 'MAX_RETRY_DELAY'>,
  retryAfter?: number | null,
): number {
  const n = Math.max(1, failures);
  const base = kind === 'network' ? cfg.MIN_RETRY_DELAY * n : cfg.MIN_RETRY_DELAY * 2 ** Math.min(n - 1, 60);
  const wanted = retryAfter != null && retryAfter > base ? retryAfter : base;
  return Math.min(wanted, cfg.MAX_RETRY_DELAY);
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
