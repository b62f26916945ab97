import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../src/config';
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

  it('answers requests with a JSON error naming the bad var', async () => {
    const res = await callWith({ MAX_RETRIES: 'lots' }, '/stats');
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('misconfigured');
    expect(body.error.message).toContain('MAX_RETRIES');
  });
});
