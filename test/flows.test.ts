import { describe, expect, it } from 'vitest';
import { call, callWith, consume, enqueue, getTask, hook, received, recordingQueue } from './helpers';
import type { Received } from './hook-server';

// Flow control in the Workers runtime, with the flows' Durable Objects, local D1 and the hook
// server. The test plays the queue: it hands each message to a consumer invocation once its delay
// is up, several invocations at once, as Cloudflare runs them.

const json = async <T = any>(res: Response | Promise<Response>) => (await (await res).json()) as T;
const put = (key: string, limits: object) => call(`/flows/${key}`, { method: 'PUT', body: JSON.stringify(limits), headers: { 'content-type': 'application/json' } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Delivers `ids`, then every message the consumer sends, when due, until `done()` or `ms` pass. */
async function playQueue(ids: string[], done: () => Promise<boolean>, ms: number, vars: Record<string, unknown> = {}) {
  const q = recordingQueue();
  const pending: { at: number; ids: string[] }[] = [{ at: 0, ids }];
  const running = new Set<Promise<unknown>>();
  let seen = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const m of q.sent.slice(seen)) pending.push({ at: Date.now() + (m.delaySeconds ?? 0) * 1000, ids: m.body.ids });
    seen = q.sent.length;
    const ready = pending.filter((p) => p.at <= Date.now());
    pending.splice(0, pending.length, ...pending.filter((p) => p.at > Date.now()));
    // Up to 8 invocations at once, each with up to 100 ids.
    for (let i = 0; i < ready.length && running.size < 8; i++) {
      const batch = ready.splice(i--, 1).flatMap((r) => r.ids);
      const p: Promise<unknown> = consume(batch, { ...vars, ...q.vars }).finally(() => running.delete(p));
      running.add(p);
    }
    pending.push(...ready);
    if (running.size === 0 && pending.length === 0 && (await done())) return;
    if (await done()) break;
    await sleep(50);
  }
  await Promise.all(running);
}

const allCompleted = (ids: string[]) => async () => (await Promise.all(ids.map(getTask))).every((t) => t.status === 'completed');
const arrivals = (log: Received[]) => log.map((r) => r.at).sort((a, b) => a - b);

describe('flow control', () => {
  it('with rate 5/s, 100 tasks of one flow reach the hook at 5/s ±10 %, and another flow is not slowed', { timeout: 60_000 }, async () => {
    expect((await put('rate5', { rate: 5, period: 1 })).status).toBe(200);
    const slow = hook('ok');
    const fast = hook('ok');
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push((await enqueue(slow.url, 'x', { flow_key: 'rate5' })).task.id);
    const others: string[] = [];
    for (let i = 0; i < 20; i++) others.push((await enqueue(fast.url, 'x', {}, { 'torque-flow-key': 'unlimited' })).task.id);
    const start = Date.now();
    await playQueue([...ids, ...others], allCompleted([...ids, ...others]), 45_000);
    const times = arrivals(await received(slow.key));
    expect(new Set((await received(slow.key)).map((r) => r.headers['torque-task-id'])).size).toBe(100);
    const rate = (times.length - 1) / ((times.at(-1)! - times[0]) / 1000);
    expect(rate).toBeGreaterThan(4.5);
    expect(rate).toBeLessThan(5.5);
    // A sliding window: starts 5 apart are a period apart. Each start is on its slot or a little
    // late (the runtime's timers and clock are coarse; on a busy machine by up to a few hundred
    // ms), so: never within 0.6 s, and a period on average. Without the limit they are ms apart.
    const gaps = times.slice(5).map((t, i) => t - times[i]);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(600);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeGreaterThan(900);
    expect(mean).toBeLessThan(1100);
    // The other flow went at once, not behind the limited one.
    expect(Math.max(...arrivals(await received(fast.key))) - start).toBeLessThan(5_000);
    // Held back is not a failure: every task completed on its first attempt.
    for (const id of ids.slice(0, 20)) expect((await getTask(id)).attempts).toBe(1);
  });

  it('with parallelism 1 the hook never sees two calls of the flow at once', { timeout: 60_000 }, async () => {
    await put('one-at-a-time', { parallelism: 1 });
    const h = hook('sleep', 'ms=300');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await enqueue(h.url, 'x', { flow_key: 'one-at-a-time' })).task.id);
    await playQueue(ids, allCompleted(ids), 45_000);
    const log = await received(h.key);
    expect(log).toHaveLength(6);
    expect(Math.max(...log.map((r) => r.inflight))).toBe(1);
  });

  it('DEFAULT_HOST_PARALLELISM limits every destination host for tasks without a flow', { timeout: 60_000 }, async () => {
    const h = hook('sleep', 'ms=300');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await enqueue(h.url)).task.id);
    await playQueue(ids, allCompleted(ids), 45_000, { DEFAULT_HOST_PARALLELISM: '1' });
    const log = await received(h.key);
    expect(log).toHaveLength(5);
    expect(Math.max(...log.map((r) => r.inflight))).toBe(1);
  });

  it('a paused flow delivers nothing, loses nothing and spends no retries until resumed, then everything', { timeout: 60_000 }, async () => {
    expect((await json(call('/flows/held/pause', { method: 'POST' }))).paused).toBe(true);
    const h = hook('ok');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await enqueue(h.url, 'x', { flow_key: 'held' })).task.id);
    await playQueue(ids, async () => false, 3_000);
    expect(await received(h.key)).toHaveLength(0);
    for (const id of ids) expect(await getTask(id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect((await json(call('/flows/held/resume', { method: 'POST' }))).paused).toBe(false);
    // Held tasks come back on their own (their messages were re-sent with a delay).
    const q = recordingQueue();
    await playQueue(ids, allCompleted(ids), 30_000, q.vars);
    expect(new Set((await received(h.key)).map((r) => r.headers['torque-task-id']))).toEqual(new Set(ids));
    for (const id of ids) expect((await getTask(id)).attempts).toBe(1);
  });

  it('manages flows through the API, with clear errors', async () => {
    expect(await json(put('api-flow', { rate: 10, period: 60, parallelism: 2 }))).toMatchObject({ key: 'api-flow', rate: 10, period: 60, parallelism: 2, paused: false });
    const bad = await put('api-flow', {});
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.message).toContain('rate');
    expect((await put('api-flow', { rate: 0 })).status).toBe(400);
    expect((await put('no spaces', { rate: 1 })).status).toBe(400);
    const got = await json(call('/flows/api-flow'));
    expect(got).toMatchObject({ key: 'api-flow', running: 0, started_in_period: 0 });
    expect((await json<{ flows: { key: string }[] }>(call('/flows'))).flows.map((f) => f.key)).toContain('api-flow');
    expect((await call('/flows/api-flow', { method: 'DELETE' })).status).toBe(204);
    expect((await call('/flows/api-flow')).status).toBe(404);
    // A task names its flow by parameter or header (not two different ones), and shows it.
    const { res, task } = await enqueue(hook('ok').url, 'x', { flow_key: 'shown' }, { 'torque-flow-key': 'shown' });
    expect(res.status).toBe(201);
    expect(task.flow_key).toBe('shown');
    expect((await enqueue(hook('ok').url, 'x', { flow_key: 'a' }, { 'torque-flow-key': 'b' })).res.status).toBe(400);
    const batch = await json<{ tasks: { flow_key: string | null }[] }>(callWith({}, '/batch', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ url: hook('ok').url, flow_key: 'b1' }, { url: hook('ok').url }]),
    }));
    expect(batch.tasks.map((t) => t.flow_key)).toEqual(['b1', null]);
  });
});
