import { describe, expect, it } from 'vitest';
import { nextRun } from '../src/schedules/cron';
import { call, hook } from './helpers';

// Cron expressions as their users read them: `?` as Quartz means it, impossible dates and UTC
// offsets refused with a clear 400.

const create = (body: object) => call('/schedules', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const DAY = 86_400_000;

describe('cron fields', () => {
  it('"?" in day-of-month or day-of-week means "*" (daily stays daily), and is refused elsewhere', async () => {
    const t = Date.parse('2026-12-07T10:17:30Z');
    const a = nextRun('0 0 ? * *', 'UTC', t)!;
    expect(new Date(a).toISOString()).toBe('2026-12-08T00:00:00.000Z');
    expect(nextRun('0 0 ? * *', 'UTC', a)! - a).toBe(DAY);
    // Quartz's "every Monday at 04:05": day-of-month says nothing.
    expect(new Date(nextRun('5 4 ? * MON', 'UTC', t)!).toISOString()).toBe('2026-12-14T04:05:00.000Z');
    const made = await create({ cron: '0 0 ? * *', url: hook('ok').url });
    expect(made.status).toBe(201);
    const s = (await made.json()) as { next_run_at: string };
    expect(Date.parse(s.next_run_at) - Date.now()).toBeLessThanOrEqual(DAY);
    const bad = await create({ cron: '? * * * *', url: hook('ok').url });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/cron: "\?" is allowed only/);
  });

  it('an expression that never runs is refused as such', async () => {
    for (const cron of ['0 0 31 4,6,9,11 *', '0 0 30 2 *']) {
      const res = await create({ cron, url: hook('ok').url });
      expect(res.status, cron).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message, cron).toBe('cron: never runs (no date matches it)');
    }
  });

  it('time zones are IANA names: UTC offsets are refused', async () => {
    for (const timezone of ['+05:30', '-08:00']) {
      const res = await create({ cron: '* * * * *', timezone, url: hook('ok').url });
      expect(res.status, timezone).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message, timezone).toMatch(/^timezone: .* is not an IANA time zone/);
    }
    expect((await create({ cron: '* * * * *', timezone: 'Asia/Kolkata', url: hook('ok').url })).status).toBe(201);
  });
});
