import { describe, expect, it } from 'vitest';
import { call, callWith, consume, getTask, hook, json, received } from './helpers';

// Fan-out topics, in the runtime with local D1 and the hook server.
const putTopic = (name: string, endpoints: unknown) => call(`/topics/${name}`, { method: 'PUT', body: JSON.stringify({ endpoints }), headers: { 'content-type': 'application/json' } });

describe('topics', () => {
  it('publishes one task per endpoint; a dead endpoint retries alone while the others complete', async () => {
    const a = hook('ok');
    const dead = hook('status', 'code=503');
    const c = hook('ok');
    expect(await json(putTopic('orders', [a.url, dead.url, c.url]))).toMatchObject({ name: 'orders', endpoints: [a.url, dead.url, c.url] });
    const res = await call('/topics/orders?max_retries=3', { method: 'POST', body: '{"order":7}', headers: { 'content-type': 'application/json', 'torque-passthrough-x-tenant': 'acme' } });
    expect(res.status).toBe(201);
    const { tasks } = await json<{ tasks: { id: string; url: string; max_retries: number }[] }>(res);
    expect(tasks.map((t) => t.url)).toEqual([a.url, dead.url, c.url]);
    expect(new Set(tasks.map((t) => t.max_retries))).toEqual(new Set([3]));
    await consume(tasks.map((t) => t.id));
    expect((await Promise.all(tasks.map((t) => getTask(t.id)))).map((t) => t.status)).toEqual(['completed', 'retry', 'completed']);
    for (const h of [a, c]) {
      const [got] = await received(h.key);
      expect(Buffer.from(got.body, 'base64').toString()).toBe('{"order":7}');
      expect(got.headers['x-tenant']).toBe('acme');
    }
    expect(await received(dead.key)).toHaveLength(1);
  });

  it('reads, lists and deletes topics; publishing twice with one Idempotency-Key makes the tasks once', async () => {
    await putTopic('once', [hook('ok').url, hook('ok').url]);
    const first = await json<{ tasks: { id: string }[] }>(call('/topics/once', { method: 'POST', body: 'x', headers: { 'idempotency-key': 'pub-1' } }));
    const again = await json<{ tasks: { id: string }[] }>(call('/topics/once', { method: 'POST', body: 'x', headers: { 'idempotency-key': 'pub-1' } }));
    expect(again.tasks.map((t) => t.id)).toEqual(first.tasks.map((t) => t.id));
    expect((await json<{ topics: { name: string }[] }>(call('/topics'))).topics.map((t) => t.name)).toContain('once');
    expect((await json(call('/topics/once'))).endpoints).toHaveLength(2);
    expect((await call('/topics/once', { method: 'DELETE' })).status).toBe(204);
    expect((await call('/topics/once')).status).toBe(404);
    expect((await call('/topics/once', { method: 'POST', body: 'x' })).status).toBe(404);
  });

  it('refuses bad endpoint lists, naming the problem', async () => {
    expect((await putTopic('bad', [])).status).toBe(400);
    const res = await putTopic('bad', ['https://ok.example/h', 'not a url']);
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toMatch(/endpoints/);
    expect((await putTopic('bad name', [hook('ok').url])).status).toBe(400);
  });

  it('holds a publish to what a batch may carry: the body times the endpoints (413, naming it)', async () => {
    await putTopic('wide', Array.from({ length: 5 }, (_, i) => `${hook('ok').url}?e=${i}`));
    const body = new Uint8Array(1000).fill(7);
    const res = await callWith({ MAX_BODY_BYTES: '1000' }, '/topics/wide', { method: 'POST', body });
    expect(res.status).toBe(413);
    expect((await json(res)).error.message).toContain('5 × 1000 bytes');
    expect((await callWith({ MAX_BODY_BYTES: '1000' }, '/topics/wide', { method: 'POST', body: body.slice(0, 800) })).status).toBe(201);
  });
});
