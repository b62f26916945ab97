import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { call, consume, enqueue, getTask, hook, makeDue } from './helpers';
import { openDb } from '../src/store';
import { minuteSeries } from '../src/store/stats';

const stats = async () => (await (await call('/stats')).json()) as any;

describe('GET /stats', () => {
  it('counts tasks by status and throughput by attempts that ended (a handed-back claim is no attempt)', async () => {
    const ok = (await enqueue(hook('ok').url)).task.id;
    const flaky = (await enqueue(hook('seq', 'codes=500,200').url)).task.id;
    const dead = (await enqueue(hook('status', 'code=500').url, 'x', { max_retries: '0' })).task.id;
    const later = (await enqueue(hook('ok').url, 'x', { delay: '600' })).task.id;
    const slow = (await enqueue(hook('sleep', 'ms=5000').url, 'x', { timeout: '3' })).task.id;
    expect((await stats()).tasks).toEqual({ pending: 5, in_progress: 0, retry: 0, completed: 0, failed: 0 });

    await consume([ok, flaky, dead, later]);
    await consume([slow], { CONSUMER_BUDGET: '2', MAX_TIMEOUT: '2', DEFAULT_TIMEOUT: '2' }); // handed back unstarted
    let s = await stats();
    expect(s.tasks).toEqual({ pending: 2, in_progress: 0, retry: 1, completed: 1, failed: 1 });
    expect(s.throughput.last_hour).toEqual({ enqueued: 5, attempts: 3, completed: 1, failed: 1 });

    await makeDue(flaky);
    await consume([flaky]);
    s = await stats();
    expect(s.tasks).toEqual({ pending: 2, in_progress: 0, retry: 0, completed: 2, failed: 1 });
    expect(s.throughput.last_day).toEqual({ enqueued: 5, attempts: 4, completed: 2, failed: 1 });
    // The last minute is the current clock minute: exactly those of the 5 made in it (read again
    // if the minute turned during the read, so the minute it used is known).
    const made = await Promise.all([ok, flaky, dead, later, slow].map(async (id) => Math.floor(Date.parse((await getTask(id)).created_at) / 60_000)));
    let minute = -1;
    let lastMinute = -1;
    for (let i = 0; i < 3 && minute < 0; i++) {
      const before = Math.floor(Date.now() / 60_000);
      const enqueued = (await stats()).throughput.last_minute.enqueued;
      if (Math.floor(Date.now() / 60_000) === before) [minute, lastMinute] = [before, enqueued];
    }
    expect(lastMinute).toBe(made.filter((m) => m === minute).length);
    expect(s.oldest_overdue_seconds).toBeGreaterThanOrEqual(0); // `slow` is due and waiting

    await call(`/tasks/${later}`, { method: 'DELETE' });
    expect((await stats()).tasks.pending).toBe(1);
  });

  it('reports how long the most overdue waiting task has waited', async () => {
    await call('/?all=true', { method: 'DELETE' });
    expect((await stats()).oldest_overdue_seconds).toBeNull();
    const { task } = await enqueue(hook('ok').url);
    await env.DB.prepare('UPDATE tasks SET due_at = ? WHERE id = ?').bind(Date.now() - 90_000, task.id).run();
    const age = (await stats()).oldest_overdue_seconds;
    expect(age).toBeGreaterThanOrEqual(89);
    expect(age).toBeLessThanOrEqual(95);
  });
});

describe("the dashboard's chart", () => {
  it('counts tasks not yet folded as enqueued in their minute, as /stats does', async () => {
    for (let i = 0; i < 3; i++) await enqueue(hook('ok').url, 'x', { delay: '3600' });
    // Read both in the same minute (again if the minute turned between them).
    for (let i = 0; i < 3; i++) {
      const minute = Math.floor(Date.now() / 60_000);
      const counted = (await stats()).throughput.last_minute.enqueued;
      const series = await minuteSeries(openDb(env.DB), 'default', minute - 1);
      if (Math.floor(Date.now() / 60_000) !== minute) continue;
      expect(counted).toBeGreaterThanOrEqual(3);
      expect(series.find((m) => m.minute === minute)?.enqueued ?? 0).toBe(counted);
      return;
    }
    throw new Error('the minute turned during every read');
  });
});
