import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { cronProblem, nextRun } from '../src/schedules/cron';
import { sweep } from '../src/sweep/sweep';
import { call, consume, hook, json, received } from './helpers';

// Recurring schedules: the cron API, and the tick (run by the sweeper) in the runtime with local D1.
const create = (body: object) => call('/schedules', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const MINUTE = 60_000;
/** Makes a schedule due now (a test shortcut for "its minute has come"). */
const makeDue = (id: string, at = Date.now() - 1) => env.DB.prepare('UPDATE schedules SET next_run_at = ?1 WHERE id = ?2').bind(at, id).run();
const tasksOf = async (id: string) => (await json<{ tasks: Record<string, any>[] }>(call(`/tasks?schedule_id=${id}&limit=100`))).tasks;

describe('cron expressions', () => {
  it('handles DST in a zone: a daily 02:30 in Berlin runs once a day across both transitions', () => {
    const spring = [Date.parse('2026-03-27T12:00:00Z')];
    for (let i = 0; i < 3; i++) spring.push(nextRun('30 2 * * *', 'Europe/Berlin', spring.at(-1)!)!);
    // 02:30 CET is 01:30Z; 29 March has no 02:30 (clocks jump to 03:00): it runs at 03:30 CEST (01:30Z); then 00:30Z (CEST).
    expect(spring.slice(1).map((t) => new Date(t).toISOString())).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    const autumn = [Date.parse('2026-10-24T12:00:00Z')];
    for (let i = 0; i < 3; i++) autumn.push(nextRun('30 2 * * *', 'Europe/Berlin', autumn.at(-1)!)!);
    // 25 October has 02:30 twice (CEST, then CET): it runs once.
    expect(autumn.slice(1).map((t) => new Date(t).toISOString())).toEqual(['2026-10-25T01:30:00.000Z', '2026-10-26T01:30:00.000Z', '2026-10-27T01:30:00.000Z']);
  });

  it('names the field of a bad expression or zone', () => {
    expect(cronProblem('*/5 * * * *', 'UTC')).toBeNull();
    expect(cronProblem('61 * * * *', 'UTC')?.field).toBe('cron');
    expect(cronProblem('* * * * * *', 'UTC')?.field).toBe('cron'); // seconds are not taken
    expect(cronProblem('* * * * *', 'Mars/Olympus')?.field).toBe('timezone');
  });
});

describe('schedules', () => {
  it('creates, reads, lists, pauses, resumes and deletes schedules, with 400s naming the field', async () => {
    const res = await create({ cron: '0 9 * * MON-FRI', timezone: 'Europe/Berlin', url: hook('ok').url, body: '{"report":true}', headers: { 'content-type': 'application/json' }, name: 'daily report' });
    expect(res.status).toBe(201);
    const s = await json(res);
    expect(s).toMatchObject({ cron: '0 9 * * MON-FRI', timezone: 'Europe/Berlin', name: 'daily report', paused: false, last_task: null });
    expect(Date.parse(s.next_run_at)).toBeGreaterThan(Date.now());
    expect((await json(call(`/schedules/${s.id}`))).id).toBe(s.id);
    expect((await json<{ schedules: { id: string }[] }>(call('/schedules'))).schedules.map((x) => x.id)).toContain(s.id);
    expect(await (await call('/dashboard/schedules')).text()).toContain(`data-schedule="${s.id}"`);
    expect(await json(call(`/schedules/${s.id}/pause`, { method: 'POST' }))).toMatchObject({ paused: true, next_run_at: null });
    expect((await json(call(`/schedules/${s.id}/resume`, { method: 'POST' }))).paused).toBe(false);
    expect((await call(`/schedules/${s.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`/schedules/${s.id}`)).status).toBe(404);
    for (const [body, field] of [[{ cron: '99 * * * *', url: hook('ok').url }, 'cron'], [{ cron: '* * * * *', timezone: 'Nowhere/City', url: hook('ok').url }, 'timezone'], [{ cron: '* * * * *', url: 'ftp://x' }, 'url']] as const) {
      const bad = await create(body);
      expect(bad.status).toBe(400);
      expect((await json(bad)).error.message).toContain(field);
    }
  });

  it('makes one task per due run, byte for byte, even when the tick is late or runs twice', async () => {
    const h = hook('ok');
    const s = await json(create({ cron: '*/5 * * * *', url: h.url, body_base64: 'AAEC/w==', headers: { 'content-type': 'application/octet-stream', 'x-job': 'sync' } }));
    await makeDue(s.id, Date.now() - 12 * MINUTE); // due 12 minutes ago: two runs missed
    const late = await sweep(env, Date.now());
    expect(late.scheduled).toBeGreaterThanOrEqual(1);
    await sweep(env, Date.now()); // the same minute again
    const tasks = await tasksOf(s.id);
    expect(tasks).toHaveLength(1); // the missed window fires once
    const after = await json(call(`/schedules/${s.id}`));
    expect(Date.parse(after.next_run_at)).toBeGreaterThan(Date.now());
    expect(after.last_task).toEqual({ id: tasks[0].id, status: 'pending' });
    await consume([tasks[0].id]);
    const [got] = await received(h.key);
    expect(Buffer.from(got.body, 'base64')).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(got.headers['x-job']).toBe('sync');
    expect((await json(call(`/schedules/${s.id}`))).last_task.status).toBe('completed');
    // Every answer that shows the schedule says how its last task went, not only GET.
    const listed = (await json(call('/schedules'))).schedules.find((x: { id: string }) => x.id === s.id);
    expect(listed.last_task).toEqual({ id: tasks[0].id, status: 'completed' });
    const paused = await json(call(`/schedules/${s.id}/pause`, { method: 'POST' }));
    expect([paused.last_task, paused.body_base64]).toEqual([{ id: tasks[0].id, status: 'completed' }, 'AAEC/w==']);
    expect((await json(call(`/schedules/${s.id}/resume`, { method: 'POST' }))).last_task.status).toBe('completed');
  });

  it('a schedule deleted or paused between ticks makes nothing', async () => {
    const gone = await json(create({ cron: '* * * * *', url: hook('ok').url }));
    const held = await json(create({ cron: '* * * * *', url: hook('ok').url }));
    await makeDue(gone.id);
    await makeDue(held.id);
    await call(`/schedules/${gone.id}`, { method: 'DELETE' });
    await call(`/schedules/${held.id}/pause`, { method: 'POST' });
    await sweep(env, Date.now());
    expect(await tasksOf(gone.id)).toHaveLength(0);
    expect(await tasksOf(held.id)).toHaveLength(0);
  });

  it('10,000 schedules due in the same minute make 10,000 tasks in one tick, in chunks inside the limits', { timeout: 120_000 }, async () => {
    const url = hook('ok').url;
    const now = Date.now();
    // Inserted directly (10,000 API calls would only test the API again), all due now.
    await env.DB.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
      INSERT INTO schedules (app_id, id, cron, timezone, url, method, timeout, max_retries, paused, next_run_at, created_at, updated_at)
      SELECT 'default', printf('BULK%08d', i), '* * * * *', 'UTC', ?1, 'POST', 60, 3, 0, ?2, ?2, ?2 FROM n`).bind(url, now - 1).run();
    const report = await sweep(env, now);
    expect(report.scheduled).toBe(10_000);
    const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM tasks WHERE schedule_id LIKE 'BULK%'").first<{ n: number }>())!;
    expect(n).toBe(10_000);
    const { m } = (await env.DB.prepare("SELECT count(*) AS m FROM schedules WHERE id LIKE 'BULK%' AND next_run_at > ?1").bind(now).first<{ m: number }>())!;
    expect(m).toBe(10_000);
    expect((await sweep(env, now)).scheduled).toBe(0);
  });
});
