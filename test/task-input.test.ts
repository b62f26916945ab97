import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { retryDelay } from '../src/dispatch/backoff';
import { call, consume, enqueue, hook, json } from './helpers';

// What a task carries, seen and chosen: its body and headers (include=body), its first attempt's
// time (not_before), its retry policy.
const batch = (items: unknown[]) => call('/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items) });

describe('GET /tasks/{id}?include=body', () => {
  it('shows the body (base64, and as text when it is UTF-8) and the passthrough headers', async () => {
    const { task } = await enqueue(hook('ok').url, '{"order":"7 €"}', {}, { 'content-type': 'application/json', 'torque-passthrough-x-tenant': 'acme' });
    const plain = await json(call(`/tasks/${task.id}`));
    expect(plain).not.toHaveProperty('body');
    const full = await json(call(`/tasks/${task.id}?include=body`));
    expect(full).toMatchObject({ id: task.id, body: '{"order":"7 €"}', body_base64: Buffer.from('{"order":"7 €"}').toString('base64'), content_type: 'application/json', headers: { 'x-tenant': 'acme' } });
  });

  it('gives a binary body as base64 only, and no body as null', async () => {
    const bytes = Uint8Array.from([0xff, 0xfe, 0, 1, 0xc3]);
    const { task } = await enqueue(hook('ok').url, bytes, {}, { 'content-type': 'application/octet-stream' });
    expect(await json(call(`/tasks/${task.id}?include=body`))).toMatchObject({ body: null, body_base64: Buffer.from(bytes).toString('base64'), headers: {} });
    const { task: empty } = await enqueue(hook('ok').url, null);
    expect(await json(call(`/tasks/${empty.id}?include=body`))).toMatchObject({ body: null, body_base64: null });
  });

  it('refuses an unknown include with a 400 naming it', async () => {
    const { task } = await enqueue(hook('ok').url);
    const res = await call(`/tasks/${task.id}?include=secrets`);
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain('include');
  });
});

describe('not_before', () => {
  const at = (ms: number) => new Date(ms).toISOString();
  it('sets the first attempt at an absolute time, as unix seconds or an ISO 8601 instant', async () => {
    const soon = Math.floor(Date.now() / 1000) + 3600;
    const bySeconds = await enqueue(hook('ok').url, 'x', { not_before: String(soon) });
    expect(bySeconds.res.status).toBe(201);
    expect(bySeconds.task.due_at).toBe(at(soon * 1000));
    const byIso = await enqueue(hook('ok').url, 'x', { not_before: '2099-01-01T10:00:00+02:00' });
    expect(byIso.res.status).toBe(400); // more than a year ahead
    expect(byIso.task.error.message).toContain('not_before');
    const iso = at(soon * 1000 + 500);
    expect((await enqueue(hook('ok').url, 'x', { not_before: iso })).task.due_at).toBe(iso);
    // A time already past means now.
    const past = await enqueue(hook('ok').url, 'x', { not_before: '2020-01-01T00:00:00Z' });
    expect(past.task.due_at).toBe(past.task.created_at);
  });

  it('refuses not_before with delay, and values that are no instant, naming not_before', async () => {
    const both = await enqueue(hook('ok').url, 'x', { not_before: '2030-01-01T00:00:00Z', delay: '5' });
    expect(both.res.status).toBe(400);
    expect(both.task.error.message).toMatch(/not_before.*delay/);
    for (const bad of ['tomorrow', '2030-01-01', '2030-01-01T00:00:00', '-5']) {
      const { res, task } = await enqueue(hook('ok').url, 'x', { not_before: bad });
      expect(res.status, bad).toBe(400);
      expect(task.error.message).toContain('not_before');
    }
  });

  it('works on batch items and topic publishes', async () => {
    const soon = Math.floor(Date.now() / 1000) + 600;
    const res = await batch([{ url: hook('ok').url, not_before: soon }, { url: hook('ok').url, not_before: at(soon * 1000) }, { url: hook('ok').url }]);
    expect(res.status).toBe(201);
    const { tasks } = await json(res);
    expect(tasks.slice(0, 2).map((t: any) => t.due_at)).toEqual([at(soon * 1000), at(soon * 1000)]);
    const bad = await batch([{ url: hook('ok').url, not_before: soon, delay: 3 }]);
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.message).toContain('[0].not_before');
    await call('/topics/later', { method: 'PUT', body: JSON.stringify({ endpoints: [hook('ok').url, hook('ok').url] }), headers: { 'content-type': 'application/json' } });
    const published = await json(call(`/topics/later?not_before=${soon}`, { method: 'POST', body: 'x' }));
    expect(published.tasks.map((t: any) => t.due_at)).toEqual([at(soon * 1000), at(soon * 1000)]);
  });
});

describe('retry policy', () => {
  /** How long the task waits after its failed attempt (its next due time minus when that attempt ended). */
  async function waitAfterFailure(id: string) {
    const row = await env.DB.prepare('SELECT status, due_at - updated_at AS wait FROM tasks WHERE id = ?').bind(id).first<{ status: string; wait: number }>();
    expect(row!.status).toBe('retry');
    return row!.wait;
  }

  it('per task: fixed, linear and exponential within the given bounds', async () => {
    const fail = hook('status', 'code=500').url;
    const { task } = await enqueue(fail, 'x', { retry_backoff: 'fixed', retry_min_delay: '5', retry_max_delay: '5' });
    expect(task.retry).toEqual({ backoff: 'fixed', min_delay: 5, max_delay: 5 });
    await consume([task.id]);
    expect(await waitAfterFailure(task.id)).toBe(5000);
    // Bounds not given are the deployment's (the tests run with MIN_RETRY_DELAY=1, MAX_RETRY_DELAY=60).
    const { task: capped } = await enqueue(fail, 'x', { retry_backoff: 'exponential', retry_min_delay: '40' });
    expect(capped.retry).toEqual({ backoff: 'exponential', min_delay: 40, max_delay: 60 });
    await consume([capped.id]);
    const wait = await waitAfterFailure(capped.id);
    expect(wait).toBeGreaterThanOrEqual(40_000);
    expect(wait).toBeLessThanOrEqual(48_000);
    // The arithmetic of each kind, without jitter.
    const mid = () => 0.5;
    const cfg = { MIN_RETRY_DELAY: 1, MAX_RETRY_DELAY: 1000 };
    expect([1, 2, 3, 4].map((n) => retryDelay('http', n, cfg, null, mid, { backoff: 'linear', min: 10, max: 35 }))).toEqual([10, 20, 30, 35]);
    expect([1, 2, 3, 4].map((n) => retryDelay('network', n, cfg, null, mid, { backoff: 'exponential', min: 10, max: 50 }))).toEqual([10, 20, 40, 50]);
    expect([1, 5].map((n) => retryDelay('http', n, cfg, 120, mid, { backoff: 'fixed', min: 10, max: 60 }))).toEqual([60, 60]); // Retry-After, within the bounds
  });

  it('per flow, for its tasks that have none of their own', async () => {
    const put = await call('/flows/retry-fixed', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ retry_backoff: 'fixed', retry_min_delay: 7, retry_max_delay: 7 }) });
    expect(put.status).toBe(200);
    expect((await json(put)).retry).toEqual({ backoff: 'fixed', min_delay: 7, max_delay: 7 });
    const fail = hook('status', 'code=500').url;
    const { task } = await enqueue(fail, 'x', { flow_key: 'retry-fixed' });
    const { task: own } = await enqueue(fail, 'x', { flow_key: 'retry-fixed', retry_backoff: 'fixed', retry_min_delay: '3', retry_max_delay: '3' });
    await consume([task.id, own.id]);
    expect(await waitAfterFailure(task.id)).toBe(7000);
    expect(await waitAfterFailure(own.id)).toBe(3000);
  });

  it('refuses a policy outside MIN_RETRY_DELAY..MAX_RETRY_DELAY or upside down, naming the field', async () => {
    for (const [params, field] of [[{ retry_max_delay: '61' }, 'retry_max_delay'], [{ retry_min_delay: '30', retry_max_delay: '20' }, 'retry_min_delay'], [{ retry_backoff: 'random' }, 'retry_backoff']] as const) {
      const { res, task } = await enqueue(hook('ok').url, 'x', params);
      expect(res.status, field).toBe(400);
      expect(task.error.message).toContain(field);
    }
    const flow = await call('/flows/bad-retry', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ retry_max_delay: 100_000 }) });
    expect(flow.status).toBe(400);
    expect((await json(flow)).error.message).toContain('retry_max_delay');
    const item = await batch([{ url: hook('ok').url, retry_min_delay: 0 }]);
    expect(item.status).toBe(400);
  });
});
