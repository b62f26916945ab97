import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelay } from '../src/dispatch/backoff';
import { decideNext } from '../src/dispatch/outcome';

const cfg = { MIN_RETRY_DELAY: 2, MAX_RETRY_DELAY: 7200, COMPLETED_TTL: 10, FAILED_TTL: 20 };

describe('backoff arithmetic', () => {
  it('is linear for network errors and exponential for HTTP errors, from MIN_RETRY_DELAY', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelay('network', n, cfg))).toEqual([2, 4, 6, 8, 10]);
    expect([1, 2, 3, 4, 5].map((n) => retryDelay('http', n, cfg))).toEqual([2, 4, 8, 16, 32]);
  });

  it('caps at MAX_RETRY_DELAY', () => {
    expect(retryDelay('http', 13, cfg)).toBe(7200);
    expect(retryDelay('http', 1000, cfg)).toBe(7200);
    expect(retryDelay('network', 5000, cfg)).toBe(7200);
  });

  it('lets Retry-After lengthen but never shorten the wait, still capped', () => {
    expect(retryDelay('http', 1, cfg, 100)).toBe(100);
    expect(retryDelay('http', 5, cfg, 1)).toBe(32);
    expect(retryDelay('http', 1, cfg, 1e9)).toBe(7200);
  });

  it('with the default config, 36 retries span about two days', () => {
    let total = 0;
    for (let n = 1; n <= 36; n++) total += retryDelay('http', n, cfg);
    expect(total / 86_400).toBeGreaterThan(1.5);
    expect(total / 86_400).toBeLessThan(3);
  });

  it('property: within [MIN, MAX], monotone in the failure count', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('network' as const, 'http' as const),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 100_000 }),
        (kind, n, min, span) => {
          const c = { MIN_RETRY_DELAY: min, MAX_RETRY_DELAY: min + span };
          const d = retryDelay(kind, n, c);
          expect(d).toBeGreaterThanOrEqual(min);
          expect(d).toBeLessThanOrEqual(min + span);
          expect(retryDelay(kind, n + 1, c)).toBeGreaterThanOrEqual(d);
        },
      ),
    );
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});

describe('outcome classification', () => {
  it('property: matches the contract for every outcome and attempt count', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('ok' as const, 'network' as const, 'http' as const, 'gone' as const, 'blocked' as const),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 102 }),
        (outcome, maxRetries, attempts) => {
          const now = 1_000_000;
          const next = decideNext({ attempts, maxRetries, retryBase: 0 }, { outcome, retryAfter: null }, cfg, now);
          if (outcome === 'ok') expect(next).toEqual({ status: 'completed', expiresAt: now + 10_000 });
          else if (outcome === 'gone' || outcome === 'blocked' || attempts - 1 >= maxRetries) expect(next).toEqual({ status: 'failed', expiresAt: now + 20_000 });
          else expect(next).toEqual({ status: 'retry', dueAt: now + retryDelay(outcome, attempts, cfg) * 1000 });
        },
      ),
    );
  });
});
