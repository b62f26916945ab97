import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { sweep } from '../src/sweep/sweep';
import { call, callWith, enqueue, hook, json, received } from './helpers';

// Idempotency means the same answer: a retried publish gets the original publish's tasks whatever
// the topic holds now, derived keys are out of every client's reach, and a key outlives its task.
const putTopic = (name: string, endpoints: string[]) => call(`/topics/${name}`, { method: 'PUT', body: JSON.stringify({ endpoints }), headers: { 'content-type': 'application/json' } });
const publish = (name: string, key: string, vars?: Record<string, unknown>) =>
  (vars ? callWith.bind(null, vars) : call)(`/topics/${name}`, { method: 'POST', body: 'x', headers: { 'idempotency-key': key } });
const tasksTo = async (url: string) => (await env.DB.prepare('SELECT count(*) AS n FROM tasks WHERE url = ?').bind(url).first<number>('n'));
const keyRows = async (like: string) => (await env.DB.prepare('SELECT count(*) AS n FROM idempotency_keys WHERE key LIKE ?').bind(like).first<number>('n'));

describe('Idempotency-Key on topic publishes', () => {
  it('a retried publish returns the original tasks, in their order, whatever the topic holds now', async () => {
    const mail = hook('ok').url;
    const audit = hook('ok').url;
    await putTopic('order-created', [mail]);
    const first = await publish('order-created', 'order-7');
    expect(first.status).toBe(201);
    const made = (await json<{ tasks: { id: string }[] }>(first)).tasks.map((t) => t.id);
    await putTopic('order-created', [audit, mail]);
    const again = await publish('order-created', 'order-7');
    expect(again.status).toBe(200);
    expect((await json<{ tasks: { id: string; url: string }[] }>(again)).tasks.map((t) => [t.id, t.url])).toEqual([[made[0], mail]]);
    expect(await tasksTo(mail)).toBe(1);
    expect(await tasksTo(audit)).toBe(0);
    // A new key publishes to what the topic holds now.
    expect((await json<{ tasks: { url: string }[] }>(publish('order-created', 'order-8'))).tasks.map((t) => t.url)).toEqual([audit, mail]);
  });

  it("keeps a publish's keys out of every client's reach", async () => {
    const [a, b] = [hook('ok').url, hook('ok').url];
    await putTopic('refunds', [a, b]);
    const published = (await json<{ tasks: { id: string }[] }>(publish('refunds', 'order-9'))).tasks.map((t) => t.id);
    const refund = hook('ok').url;
    for (const key of ['order-9#0', 'order-9#1', 'order-9']) {
      const { res, task } = await enqueue(refund, 'x', {}, { 'idempotency-key': key });
      expect(res.status, key).toBe(201);
      expect(published).not.toContain(task.id);
    }
    const batch = await call('/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ url: refund, idempotency_key: '\u0001topic\nrefunds\norder-9' }]) });
    expect(batch.status).toBe(400);
    expect((await json(batch)).error.message).toContain('idempotency_key');
    expect(await tasksTo(refund)).toBe(3);
  });
});

describe('Idempotency-Key after its task is gone', () => {
  it('is remembered for IDEMPOTENCY_TTL: a retry makes nothing and is answered 409 naming the task', async () => {
    const h = hook('ok');
    const key = { 'idempotency-key': `del-${crypto.randomUUID()}` };
    const first = await enqueue(h.url, 'x', {}, key);
    expect((await call(`/tasks/${first.task.id}`, { method: 'DELETE' })).status).toBe(204);
    const again = await enqueue(h.url, 'x', {}, key);
    expect(again.res.status).toBe(409);
    expect(again.task.error).toMatchObject({ code: 'idempotency_key_used', task_id: first.task.id });
    expect(again.task.error.message).toContain(first.task.id);
    expect(await tasksTo(h.url)).toBe(0);
    // In a batch: that item says so, the others are made.
    const other = hook('ok').url;
    const batch = await json<{ tasks: Record<string, unknown>[] }>(call('/batch', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ url: h.url, idempotency_key: key['idempotency-key'] }, { url: other }]),
    }));
    expect(batch.tasks[0]).toMatchObject({ id: first.task.id, gone: true, idempotency_key: key['idempotency-key'] });
    expect(batch.tasks[1]).toMatchObject({ url: other, status: 'pending' });
    expect(await tasksTo(h.url)).toBe(0);
  });

  it('a publish whose tasks are partly gone returns those left and names the others', async () => {
    const [a, b] = [hook('ok').url, hook('ok').url];
    await putTopic('partly', [a, b]);
    const [ta, tb] = (await json<{ tasks: { id: string }[] }>(publish('partly', 'p-1'))).tasks;
    await call(`/tasks/${ta.id}`, { method: 'DELETE' });
    const again = await json<{ tasks: Record<string, unknown>[] }>(publish('partly', 'p-1'));
    expect(again.tasks).toMatchObject([{ id: ta.id, gone: true }, { id: tb.id, url: b }]);
    expect(await tasksTo(a)).toBe(0);
  });

  it('is free once IDEMPOTENCY_TTL has passed and its task is gone', async () => {
    const h = hook('ok');
    const key = `ttl-${crypto.randomUUID()}`;
    const post = () => callWith({ IDEMPOTENCY_TTL: '0' }, `/?url=${encodeURIComponent(h.url)}`, { method: 'POST', body: 'x', headers: { 'idempotency-key': key } });
    const first = await json(post());
    expect((await post()).status).toBe(200); // its task still exists
    await call(`/tasks/${first.id}`, { method: 'DELETE' });
    const again = await post();
    expect(again.status).toBe(201);
    expect((await json(again)).id).not.toBe(first.id);
  });

  it('the sweeper forgets expired keys whose tasks are gone, and keeps those whose task lives', async () => {
    const [kept, gone] = [`keep-${crypto.randomUUID()}`, `forget-${crypto.randomUUID()}`];
    await enqueue(hook('ok').url, 'x', { delay: '172800' }, { 'idempotency-key': kept }); // due in two days
    const { task } = await enqueue(hook('ok').url, 'x', {}, { 'idempotency-key': gone });
    await call(`/tasks/${task.id}`, { method: 'DELETE' });
    expect(await keyRows(gone)).toBe(1);
    await sweep(env, Date.now() + 25 * 3_600_000);
    expect(await keyRows(gone)).toBe(0);
    expect(await keyRows(kept)).toBe(1);
    const { res } = await enqueue(hook('ok').url, 'x', {}, { 'idempotency-key': kept });
    expect(res.status).toBe(200);
  });
});
