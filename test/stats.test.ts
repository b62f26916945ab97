import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { call, consume, enqueue, hook, makeDue } from './helpers';

const stats = async () => (await (await call('/stats')).json()) as any;

describe('GET /stats', () => {
  it('counts tasks by status and throughput by attempts that ended (a handed-back claim is no attempt)', async () => {
    // When each enqueue was counted: "the last minute" is the current minute's rollup.
    const minutes: number[] = [];
    const add = async (...args: Parameters<typeof enqueue>) => {
      const id = (await enqueue(...args)).task.id as string;
      minutes.push(Math.floor(Date.now() / 60_000));
      return id;
    };
    const ok = await add(hook('ok').url);
    const flaky = await add(hook('seq', 'codes=500,200').url);
    const dead = await add(hook('status', 'code=500').url, 'x', { max_retries: '0' });
    const later = await add(hook('ok').url, 'x', { delay: '600' });
    const slow = await add(hook('sleep', 'ms=5000').url, 'x', { timeout: '3' });
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
    expect(s.throughput.last_minute.enqueued).toBe(minutes.filter((m) => m === Math.floor(Date.now() / 60_000)).length);
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
