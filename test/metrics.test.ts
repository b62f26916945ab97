import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { call, callWith, consume, enqueue, hook, sweepCaughtUp } from './helpers';
import { openDb } from '../src/store';
import { pruneStats } from '../src/store/sweep';

const scrape = async (vars: Record<string, unknown> = {}, token = env.ADMIN_TOKEN) =>
  callWith(vars, '/metrics', { headers: token ? { authorization: `Bearer ${token}` } : {} });

/** Prometheus text to {"name{labels}": value}. */
const parse = (text: string) =>
  Object.fromEntries(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));

describe('GET /metrics', () => {
  it('needs the metrics (or admin) token, and is off without one', async () => {
    expect((await scrape({}, 'wrong')).status).toBe(401);
    expect((await scrape({ ADMIN_TOKEN: undefined, METRICS_TOKEN: undefined })).status).toBe(404);
    expect((await scrape({ METRICS_TOKEN: 'm-token' }, 'm-token')).status).toBe(200);
  });

  it('reports every app\'s counts (equal to the rows), last-day throughput and overdue age', async () => {
    const ok = (await enqueue(hook('ok').url)).task.id;
    const failing = (await enqueue(hook('status', 'code=500').url, 'x', { max_retries: '0' })).task.id;
    await enqueue(hook('ok').url, 'x', { delay: '600' });
    await consume([ok, failing]);
    await sweepCaughtUp(); // some tasks now counted by the folded counters, the rest live
    await enqueue(hook('ok').url);
    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await res.text();
    expect(text).toContain('# TYPE torque_tasks gauge');
    const m = parse(text);
    const { results } = await env.DB.prepare("SELECT status, count(*) AS n FROM tasks WHERE app_id = 'default' GROUP BY status").all<{ status: string; n: number }>();
    for (const s of ['pending', 'in_progress', 'retry', 'completed', 'failed']) {
      expect(m[`torque_tasks{app="default",status="${s}"}`], s).toBe(results.find((r) => r.status === s)?.n ?? 0);
    }
    expect(m['torque_last_day{app="default",kind="enqueued"}']).toBeGreaterThanOrEqual(4);
    expect(m['torque_last_day{app="default",kind="failed"}']).toBeGreaterThanOrEqual(1);
    expect(m['torque_oldest_overdue_seconds{app="default"}']).toBeGreaterThanOrEqual(0);
  });

  it('counts enqueued, attempted, completed and failed tasks as counters that never go down', async () => {
    const totals = async () => {
      const m = parse(await (await scrape()).text());
      return Object.fromEntries(['enqueued', 'attempts', 'completed', 'failed'].map((k) => [k, m[`torque_${k}_total{app="default"}`]]));
    };
    const before = await totals();
    const ok = (await enqueue(hook('ok').url)).task.id;
    const failing = (await enqueue(hook('status', 'code=500').url, 'x', { max_retries: '0' })).task.id;
    const gone = (await enqueue(hook('ok').url)).task.id;
    await consume([ok, failing]);
    expect((await call(`/tasks/${gone}`, { method: 'DELETE' })).status).toBe(204); // deleted before any fold
    const after = await totals();
    expect(after).toEqual({ enqueued: before.enqueued + 3, attempts: before.attempts + 2, completed: before.completed + 1, failed: before.failed + 1 });
    await sweepCaughtUp(); // the live tasks move into the minute rollups
    expect(await totals()).toEqual(after);
    // Two days on, the rollups are pruned: the last day forgets them, the counters do not.
    const dayBefore = parse(await (await scrape()).text())['torque_last_day{app="default",kind="enqueued"}'];
    await pruneStats(openDb(env.DB), Date.now() + 3 * 86_400_000);
    expect(parse(await (await scrape()).text())['torque_last_day{app="default",kind="enqueued"}']).toBeLessThan(dayBefore);
    expect(await totals()).toEqual(after);
    expect(await (await scrape()).text()).toContain('# TYPE torque_enqueued_total counter');
  });
});
