import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { fireDueSchedules } from '../src/schedules/tick';
import { openDb } from '../src/store';
import { FIRE_CHUNK } from '../src/store/schedules';
import { callWith, hook } from './helpers';

// Schedules are fair: a per-app limit, creation counted by the rate limiter, and a tick in which
// every app with due schedules takes its turn.

const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
const create = (vars: Record<string, unknown>, body: object, headers: Record<string, string> = {}) =>
  callWith(vars, '/schedules', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

describe('fair schedules', () => {
  it('an app may have MAX_SCHEDULES_PER_APP schedules; one more is refused, naming the limit', async () => {
    const vars = { MAX_SCHEDULES_PER_APP: '3' };
    const { n } = (await env.DB.prepare(`SELECT count(*) AS n FROM schedules WHERE app_id = 'default'`).first<{ n: number }>())!;
    expect(n).toBe(0);
    for (let i = 0; i < 3; i++) expect((await create(vars, { cron: '* * * * *', url: hook('ok').url })).status).toBe(201);
    const res = await create(vars, { cron: '* * * * *', url: hook('ok').url });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'limit_reached', message: expect.stringContaining('MAX_SCHEDULES_PER_APP') });
    // Deleting one makes room.
    const { schedules } = (await (await callWith(vars, '/schedules')).json()) as { schedules: { id: string }[] };
    expect((await callWith(vars, `/schedules/${schedules[0].id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await create(vars, { cron: '* * * * *', url: hook('ok').url })).status).toBe(201);
  });

  it('creating schedules counts against the enqueue rate limit', async () => {
    // A fresh app, so the small test limiter (3 per 10 s) is this test's alone.
    const made = await callWith({}, '/admin/apps', { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'scheduler' }) });
    const { api_key } = (await made.json()) as { api_key: string };
    const vars = { AUTHENTICATE: 'true', ENQUEUE_LIMITER: (env as unknown as { TEST_LIMITER: RateLimit }).TEST_LIMITER };
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await create(vars, { cron: '* * * * *', url: hook('ok').url }, { authorization: `Bearer ${api_key}` })).status);
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(3);
  });

  it("a tick serves every app's due schedules in turns: one app's thousands do not keep another's waiting", async () => {
    const url = hook('ok').url;
    const now = Date.now();
    // More due schedules of one app than a tick of one chunk fires, all older than the other app's one.
    await env.DB.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
      INSERT INTO schedules (app_id, id, cron, timezone, url, method, timeout, max_retries, paused, next_run_at, created_at, updated_at)
      SELECT 'busy-app', printf('MANY%08d', i), '* * * * *', 'UTC', ?1, 'POST', 60, 3, 0, ?2, ?2, ?2 FROM n`).bind(url, now - 60_000, FIRE_CHUNK + 100).run();
    await env.DB.prepare(`INSERT INTO schedules (app_id, id, cron, timezone, url, method, timeout, max_retries, paused, next_run_at, created_at, updated_at)
      VALUES ('quiet-app', 'ONE', '* * * * *', 'UTC', ?1, 'POST', 60, 3, 0, ?2, ?2, ?2)`).bind(url, now - 1).run();
    const made = await fireDueSchedules(env, openDb(env.DB), { now, chunks: 1 });
    expect(made).toBe(FIRE_CHUNK);
    const one = await env.DB.prepare(`SELECT next_run_at, last_task_id FROM schedules WHERE app_id = 'quiet-app'`).first<{ next_run_at: number; last_task_id: string | null }>();
    expect(one!.last_task_id).not.toBeNull();
    expect(one!.next_run_at).toBeGreaterThan(now);
    // The busy app's rest are the oldest of the next tick.
    await fireDueSchedules(env, openDb(env.DB), { now, chunks: 1 });
    const { left } = (await env.DB.prepare(`SELECT count(*) AS left FROM schedules WHERE app_id = 'busy-app' AND next_run_at <= ?1`).bind(now).first<{ left: number }>())!;
    expect(left).toBe(0);
  });
});
