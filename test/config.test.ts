import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { FINAL_FLUSH_S, getConfig, ROW_OTHER_BYTES } from '../src/config';
import { D1_BOUND_BYTES_EXPANSION, D1_MAX_ROW_BYTES, MEMORY_PER_REQUEST_BYTE, REQUEST_MEMORY_BYTES } from '../src/platform';
import { callWith } from './helpers';

describe('configuration', () => {
  it('reads every var of the contract with its defaults', () => {
    const cfg = getConfig({ DB: env.DB, TASKS: env.TASKS } as Env);
    expect(cfg).toMatchObject({
      AUTHENTICATE: true,
      ENABLE_HSTS: false,
      DEFAULT_TIMEOUT: 60,
      MAX_TIMEOUT: 600,
      MIN_RETRY_DELAY: 2,
      MAX_RETRY_DELAY: 7200,
      MAX_RETRIES: 36,
      COMPLETED_TTL: 604800,
      FAILED_TTL: 2592000,
      SWEEP_GRACE: 300,
      MAX_BODY_BYTES: 1048576,
    });
    expect(cfg.ADMIN_TOKEN).toBeUndefined();
    expect(cfg.SIGNING_SECRET).toBeUndefined();
  });

  it.each([
    ['MAX_RETRIES', 'abc'],
    ['MAX_RETRIES', '101'],
    ['DEFAULT_TIMEOUT', '-5'],
    ['AUTHENTICATE', 'maybe'],
    ['MIN_RETRY_DELAY', '1.5'],
    ['SIGNING_SECRET', 'not-a-secret'],
    ['SIGNING_SECRET', 'whsec_a'],
    ['BLOCKED_HOSTS', 'a b'],
    ['BLOCK_PRIVATE_ADDRESSES', 'sometimes'],
  ])('names a bad %s=%s instead of silently defaulting', (name, value) => {
    expect(() => getConfig({ ...env, [name]: value } as Env)).toThrow(new RegExp(`${name} must`));
  });

  it('rejects inconsistent pairs', () => {
    expect(() => getConfig({ ...env, DEFAULT_TIMEOUT: '700', MAX_TIMEOUT: '600' } as Env)).toThrow(/DEFAULT_TIMEOUT/);
    expect(() => getConfig({ ...env, MAX_TIMEOUT: '900', CONSUMER_BUDGET: '600' } as Env)).toThrow(/MAX_TIMEOUT must not exceed CONSUMER_BUDGET/);
  });

  it("bounds MAX_BODY_BYTES so a stored row (body and every other column) fits D1's 2,000,000-byte row", () => {
    const most = D1_MAX_ROW_BYTES - ROW_OTHER_BYTES;
    expect(getConfig({ ...env, MAX_BODY_BYTES: String(most) } as Env).MAX_BODY_BYTES).toBe(most);
    expect(() => getConfig({ ...env, MAX_BODY_BYTES: String(most + 1) } as Env)).toThrow(/MAX_BODY_BYTES must/);
    expect(() => getConfig({ ...env, MAX_BODY_BYTES: '2000000' } as Env)).toThrow(/MAX_BODY_BYTES must/);
    // The largest row Torque can write: a body of MAX_BODY_BYTES with every other column at its most.
    const url = `https://hook.example/${'u'.repeat(2048 - 21)}`;
    const headers = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`x-h${String(i).padStart(2, '0')}`, '"'.repeat(250)]));
    const row = { body: most, url: 3 * url.length, headers: JSON.stringify(headers).length, response: 3 * 1024, keys: 4 * 256 + 4 * 128, error: 2048, rest: 1024 };
    expect(Object.values(row).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(D1_MAX_ROW_BYTES);
  });

  it('bounds CONSUMER_BUDGET below the 15-minute wall time, leaving room for the final flush', () => {
    expect(getConfig({ ...env, CONSUMER_BUDGET: String(900 - FINAL_FLUSH_S) } as Env).CONSUMER_BUDGET).toBe(900 - FINAL_FLUSH_S);
    expect(() => getConfig({ ...env, CONSUMER_BUDGET: '900' } as Env)).toThrow(/CONSUMER_BUDGET must/);
  });

  it('holds /batch and topic publishes to the request memory budget, D1 binding expansion included', async () => {
    expect(getConfig(env).MAX_BATCH_BYTES).toBe(4 * Number(env.MAX_BODY_BYTES)); // the default fits
    const big = getConfig({ ...env, MAX_BODY_BYTES: '1900000' } as Env).MAX_BATCH_BYTES;
    expect(big).toBeLessThan(4 * 1_900_000);
    expect(big * (3 + D1_BOUND_BYTES_EXPANSION)).toBeLessThanOrEqual(REQUEST_MEMORY_BYTES);
    expect(MEMORY_PER_REQUEST_BYTE).toBeGreaterThan(D1_BOUND_BYTES_EXPANSION);
    // Enforced before the body is read.
    const res = await callWith({ MAX_BODY_BYTES: '1900000' }, '/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(big + 1) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('MAX_BATCH_BYTES');
  });

  it('answers requests with a JSON error naming the bad var', async () => {
    const res = await callWith({ MAX_RETRIES: 'lots' }, '/stats');
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('misconfigured');
    expect(body.error.message).toContain('MAX_RETRIES');
  });
});
