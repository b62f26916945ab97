import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelay } from '../src/dispatch/backoff';
import { decideNext } from '../src/dispatch/outcome';

const cfg = { MIN_RETRY_DELAY: 2, MAX_RETRY_DELAY: 7200, ms: { COMPLETED_TTL: 10_000, FAILED_TTL: 20_000 } };
const middle = () => 0.5; // the jitter's midpoint: the base delay itself

describe('backoff arithmetic', () => {
  it('is linear for network errors and exponential for HTTP errors, from MIN_RETRY_DELAY', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelay('network', n, cfg, null, middle))).toEqual([2, 4, 6, 8, 10]);
    expect([1, 2, 3, 4, 5].map((n) => retryDelay('http', n, cfg, null, middle))).toEqual([2, 4, 8, 16, 32]);
  });

  it('caps at MAX_RETRY_DELAY', () => {
    expect(retryDelay('http', 13, cfg, null, middle)).toBe(7200);
    expect(retryDelay('http', 1000, cfg, null, () => 0)).toBe(5760); // the cap, jittered down
    expect(retryDelay('http', 1000, cfg, null, () => 0.999)).toBe(7200);
    expect(retryDelay('network', 5000, cfg)).toBeLessThanOrEqual(7200);
  });

  it('lets Retry-After lengthen but never shorten the wait, still capped', () => {
    expect(retryDelay('http', 1, cfg, 100)).toBe(100);
    expect(retryDelay('http', 5, cfg, 1, middle)).toBe(32);
    expect(retryDelay('http', 1, cfg, 1e9)).toBe(7200);
  });

  it('with the default config, 36 retries span about two days', () => {
    let total = 0;
    for (let n = 1; n <= 36; n++) total += retryDelay('http', n, cfg, null, middle);
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
          const d = retryDelay(kind, n, c, null, middle);
          expect(d).toBeGreaterThanOrEqual(min);
          expect(d).toBeLessThanOrEqual(min + span);
          expect(retryDelay(kind, n + 1, c, null, middle)).toBeGreaterThanOrEqual(d);
        },
      ),
    );
  });

  it('property: jitter keeps every delay within ±20 % of the base and within [MIN, MAX]', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('network' as const, 'http' as const),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (kind, n, min, span, r) => {
          const c = { MIN_RETRY_DELAY: min, MAX_RETRY_DELAY: min + span };
          const base = retryDelay(kind, n, c, null, middle);
          const d = retryDelay(kind, n, c, null, () => r);
          expect(d).toBeGreaterThanOrEqual(Math.max(min, base * 0.8) - 0.001);
          expect(d).toBeLessThanOrEqual(Math.min(min + span, base * 1.2) + 0.001);
        },
      ),
    );
  });

  it('spreads a thousand tasks failing at once over the whole ±20 % window', () => {
    const delays = Array.from({ length: 1000 }, () => retryDelay('http', 6, cfg)); // base 64 s
    const seconds = new Set(delays.map(Math.floor));
    expect(seconds.size).toBeGreaterThanOrEqual(24); // 51.2 s .. 76.8 s: about 26 distinct seconds
    expect(Math.min(...delays)).toBeLessThan(54);
    expect(Math.max(...delays)).toBeGreaterThan(74);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(Math.abs(mean - 64)).toBeLessThan(2);
    // No second holds more than a small share of them.
    const perSecond = new Map<number, number>();
    for (const d of delays) perSecond.set(Math.floor(d), (perSecond.get(Math.floor(d)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThan(100);
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
          else {
            expect(next.status).toBe('retry');
            const base = retryDelay(outcome, attempts, cfg, null, middle) * 1000;
            const due = (next as { dueAt: number }).dueAt - now;
            expect(due).toBeGreaterThanOrEqual(Math.max(cfg.MIN_RETRY_DELAY * 1000, base * 0.8) - 1);
            expect(due).toBeLessThanOrEqual(Math.min(cfg.MAX_RETRY_DELAY * 1000, base * 1.2) + 1);
          }
        },
      ),
    );
  });
});
