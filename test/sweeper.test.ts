import { createScheduledController } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import worker from '../src';
import { describe, expect, it } from 'vitest';
import { sweep } from '../src/sweep/sweep';
import { afterWalk, call, consume, enqueue, expectCountsExact, getTask, hook, makeDue, received } from './helpers';

const sql = (q: string, ...args: unknown[]) => env.DB.prepare(q).bind(...args).run();
const row = (id: string) => env.DB.prepare('SELECT * FROM tasks WHERE id = ?').bind(id).first<Record<string, any>>();

describe('the cron sweeper', () => {
  it('runs as the scheduled handler of the entry point', async () => {
    const { task } = await enqueue(hook('ok').url);
    await sql('UPDATE tasks SET due_at = ? WHERE id = ?', Date.now() - 3_600_000, task.id);
    const controller = createScheduledController({ cron: '* * * * *', scheduledTime: afterWalk() });
    await worker.scheduled(controller, env);
    expect((await row(task.id))!.wake_at).toBeGreaterThan(Date.now()); // re-sent; next check later
  });

  it('re-sends tasks overdue by more than SWEEP_GRACE (their message was lost)', async () => {
    const lost = (await enqueue(hook('ok').url)).task;
    const fresh = (await enqueue(hook('ok').url)).task;
    const grace = Number(env.SWEEP_GRACE) * 1000;
    const lostDue = Date.now() - grace - 1000;
    await sql('UPDATE tasks SET due_at = ? WHERE id = ?', lostDue, lost.id);
    const now = afterWalk();
    const report = await sweep(env, now);
    expect(report.resent).toBeGreaterThanOrEqual(1);
    const after = await row(lost.id);
    expect(after!.due_at).toBe(lostDue); // the true due time stays: its overdue age is real
    expect(after!.wake_at).toBe(now + grace); // the re-send marker: not sent again before then
    expect((await row(fresh.id))!.wake_at).toBe(ms(fresh.due_at) + grace); // checked SWEEP_GRACE after due
    const again = await sweep(env, now + 60_000);
    expect(again.resent).toBe(0);
  });

  it('sends tasks whose delay exceeded the 24 h queue cap once they come due', async () => {
    await call('/?all=true', { method: 'DELETE' }); // the sweeps below pretend it is days later
    const h = hook('ok');
    const { task } = await enqueue(h.url, 'x', { delay: String(3 * 86_400) });
    const due = ms(task.due_at);
    expect((await sweep(env, due - 5 * 60_000)).resent).toBe(0); // not yet within the horizon
    const r1 = await sweep(env, due - 30_000);
    expect(r1.resent).toBe(1);
    expect((await sweep(env, due - 29_000)).resent).toBe(0); // sent once, not every minute
  });

  it('recovers in_progress tasks whose lease expired, counting the lost attempt', async () => {
    const { task } = await enqueue(hook('ok').url, 'x', { max_retries: '3' });
    // Claimed by a worker that then died: in_progress with an expired lease.
    await sql("UPDATE tasks SET status = 'in_progress', attempts = 1, due_at = ? WHERE id = ?", Date.now() - 1, task.id);
    const report = await sweep(env, afterWalk());
    expect(report.recovered).toBe(1);
    const t = await getTask(task.id);
    expect(t).toMatchObject({ status: 'retry', attempts: 1 });
    expect(t.last_error).toMatch(/^lease_expired/);
  });

  it('fails a recovered task that has no retries left', async () => {
    const { task } = await enqueue(hook('ok').url, 'x', { max_retries: '0' });
    await sql("UPDATE tasks SET status = 'in_progress', attempts = 1, due_at = ? WHERE id = ?", Date.now() - 1, task.id);
    await sweep(env, afterWalk());
    expect((await getTask(task.id)).status).toBe('failed');
  });

  it('then delivers recovered tasks normally', async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url);
    await sql("UPDATE tasks SET status = 'in_progress', attempts = 1, due_at = ? WHERE id = ?", Date.now() - 1, task.id);
    await sweep(env, afterWalk());
    await makeDue(task.id); // the sweep's clock ran ahead of the consumer's
    await consume([task.id]);
    expect(await getTask(task.id)).toMatchObject({ status: 'completed', attempts: 2 });
    expect(await received(h.key)).toHaveLength(1);
  });

  it('deletes completed and failed tasks after their TTL, with their attempt logs', async () => {
    const done = (await enqueue(hook('ok').url)).task;
    const failed = (await enqueue(hook('seq', 'codes=500,500').url, 'x', { max_retries: '1' })).task;
    await consume([done.id, failed.id]);
    await sql('UPDATE tasks SET due_at = ? WHERE id = ?', Date.now() - 1, failed.id);
    await consume([failed.id]);
    expect((await getTask(failed.id)).status).toBe('failed');
    expect(await env.DB.prepare('SELECT count(*) n FROM attempts WHERE task_id = ?').bind(failed.id).first('n')).toBe(1);
    await sweep(env);
    expect((await call(`/tasks/${done.id}`)).status).toBe(200);
    const later = Date.now() + Number(env.FAILED_TTL) * 1000 + 1000;
    const report = await sweep(env, later);
    expect(report.deleted).toBeGreaterThanOrEqual(2);
    expect((await call(`/tasks/${done.id}`)).status).toBe(404);
    expect((await call(`/tasks/${failed.id}`)).status).toBe(404);
    expect(await env.DB.prepare('SELECT count(*) n FROM attempts WHERE task_id = ?').bind(failed.id).first('n')).toBe(0);
  });

  it('keeps the status counters equal to the truth through every transition', async () => {
    // pending -> completed; pending -> retry -> completed; pending -> failed -> pending (replay);
    // pending -> deleted; and the sweeper's fold between them: exact after each step.
    const flakyHook = hook('seq', 'codes=500,200');
    const ok = (await enqueue(hook('ok').url)).task.id;
    const flaky = (await enqueue(flakyHook.url)).task.id;
    const dead = (await enqueue(hook('status', 'code=500').url, 'x', { max_retries: '0' })).task.id;
    const doomed = (await enqueue(hook('ok').url, 'x', { delay: '600' })).task.id;
    await expectCountsExact();
    await consume([ok, flaky, dead]);
    expect([(await getTask(ok)).status, (await getTask(flaky)).status, (await getTask(dead)).status]).toEqual(['completed', 'retry', 'failed']);
    await expectCountsExact();
    await makeDue(flaky);
    await consume([flaky]);
    expect((await getTask(flaky)).status).toBe('completed');
    await expectCountsExact();
    expect((await call(`/tasks/${dead}/retry`, { method: 'POST' })).status).toBe(202);
    expect((await getTask(dead)).status).not.toBe('failed');
    await expectCountsExact();
    expect((await call(`/tasks/${doomed}`, { method: 'DELETE' })).status).toBe(204);
    await expectCountsExact();
    await sweep(env, afterWalk());
    await expectCountsExact();
    // Leaves nothing waiting for the tests after it.
    for (const id of [ok, flaky, dead]) expect((await call(`/tasks/${id}`, { method: 'DELETE' })).status).toBe(204);
    await expectCountsExact();
  });
});

const ms = (iso: string) => new Date(iso).getTime();

describe('retries due beyond the queue delay cap', () => {
  it('are sent by the sweeper in the minute before they are due, not SWEEP_GRACE late', async () => {
    const h = hook('status', 'code=503&retry_after=200000');
    const { task } = await enqueue(h.url, 'x', { max_retries: '3' });
    await consume([task.id], { MAX_RETRY_DELAY: '300000' });
    const row = await env.DB.prepare('SELECT status, due_at, wake_at FROM tasks WHERE id = ?').bind(task.id).first<{ status: string; due_at: number; wake_at: number }>();
    expect(row!.status).toBe('retry');
    expect(row!.due_at - Date.now()).toBeGreaterThan(86_400_000); // 200,000 s ahead: no message can carry it
    expect(row!.wake_at).toBe(row!.due_at - 60_000);
    expect((await sweep(env, row!.due_at - 30_000)).resent).toBe(1);
  });
});
