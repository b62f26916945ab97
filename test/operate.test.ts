import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { call, consume, enqueue, getTask, hook, json, received, sendJson } from './helpers';

const post = (path: string, body?: unknown, headers: Record<string, string> = {}) => sendJson(path, 'POST', body, {}, headers);

describe('POST /batch', () => {
  it('enqueues up to 100 tasks in one request, in order, each delivered', async () => {
    const h = hook('ok');
    const items = Array.from({ length: 100 }, (_, i) => ({ url: `${h.url}?n=${i}`, body: `n=${i}` }));
    const res = await post('/batch', items);
    expect(res.status).toBe(201);
    const { tasks } = await json(res);
    expect(tasks).toHaveLength(100);
    expect(tasks.map((t: any) => t.url)).toEqual(items.map((i) => i.url));
    await consume(tasks.slice(0, 50).map((t: any) => t.id));
    await consume(tasks.slice(50).map((t: any) => t.id));
    const got = await received(h.key);
    expect(got).toHaveLength(100);
    expect(new Set(got.map((r) => Buffer.from(r.body, 'base64').toString())).size).toBe(100);
  });

  it('keeps per-item options, headers and binary bodies', async () => {
    const h = hook('ok');
    const bytes = Uint8Array.from([0, 255, 1, 254, 10, 13]);
    const { tasks } = await json(post('/batch', [
      { url: h.url, method: 'put', timeout: 5, max_retries: 2, headers: { 'Content-Type': 'application/octet-stream', 'X-Trace': 'abc' }, body_base64: Buffer.from(bytes).toString('base64') },
    ]));
    expect(tasks[0]).toMatchObject({ method: 'PUT', timeout: 5, max_retries: 2, status: 'pending' });
    await consume([tasks[0].id]);
    const [got] = await received(h.key);
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(got.headers['x-trace']).toBe('abc');
    expect(new Uint8Array(Buffer.from(got.body, 'base64'))).toEqual(bytes);
  });

  it.each([
    [[], 'must hold 1 to 100'],
    [Array.from({ length: 101 }, () => ({ url: 'http://a.test' })), 'must hold 1 to 100'],
    [[{ url: 'http://a.test' }, { url: 'ftp://b.test' }], '[1].url'],
    [[{ url: 'http://a.test', timeout: 'x' }], '[0].timeout'],
    [[{ url: 'http://a.test', timeout: 601 }], '[0].timeout'],
    [[{ url: 'http://a.test', delay: -1 }], '[0].delay'],
    [[{ url: 'http://a.test', body: 'a', body_base64: 'YQ==' }], '[0].body'],
    [[{ url: 'http://a.test', headers: { 'User-Agent': 'x' } }], '[0].headers.User-Agent'],
    [[{ url: 'http://a.test', nope: 1 }], 'nope'],
    [{ url: 'http://a.test' }, 'expected array'],
  ])('refuses a bad batch all-or-nothing (#%#), naming %s', async (body, mentions) => {
    const before = await json(call('/stats'));
    const res = await post('/batch', body);
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain(mentions);
    expect(await json(call('/stats'))).toEqual(before);
  });

  it('refuses malformed JSON with a 400', async () => {
    const res = await call('/batch', { method: 'POST', body: '[{', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('invalid_request');
  });
});

describe('Idempotency-Key', () => {
  it('returns the existing task with 200 and creates nothing', async () => {
    const h = hook('ok');
    const key = { 'idempotency-key': `order-${Math.random()}` };
    const first = await enqueue(h.url, 'a=1', {}, key);
    const second = await enqueue(h.url, 'a=2', {}, key);
    expect(first.res.status).toBe(201);
    expect(second.res.status).toBe(200);
    expect(second.task.id).toBe(first.task.id);
    expect(second.res.headers.get('location')).toBe(`/tasks/${first.task.id}`);
  });

  it('cannot be raced into two tasks', async () => {
    const h = hook('ok');
    const key = { 'idempotency-key': `race-${Math.random()}` };
    const all = await Promise.all(Array.from({ length: 10 }, () => enqueue(h.url, 'x', {}, key)));
    expect(new Set(all.map((r) => r.task.id)).size).toBe(1);
    expect(all.filter((r) => r.res.status === 201)).toHaveLength(1);
  });

  it('works in batches, across batches and within one', async () => {
    const k = `b-${Math.random()}`;
    const { tasks: one } = await json(post('/batch', [{ url: hook('ok').url, idempotency_key: k }, { url: hook('ok').url, idempotency_key: k }]));
    expect(one[0].id).toBe(one[1].id);
    const { tasks: two } = await json(post('/batch', [{ url: hook('ok').url, idempotency_key: k }]));
    expect(two[0].id).toBe(one[0].id);
  });

});

describe('GET /tasks', () => {
  it('lists newest first with cursor pagination and a status filter', async () => {
    await call('/?all=true', { method: 'DELETE' });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await enqueue(hook('ok').url)).task.id);
    await consume(ids.slice(0, 3)); // three completed, four pending
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await json(call(`/tasks?limit=3${cursor ? `&cursor=${cursor}` : ''}`));
      expect(page.tasks.length).toBeLessThanOrEqual(3);
      seen.push(...page.tasks.map((t: any) => t.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const done = await json(call('/tasks?status=completed'));
    expect(done.tasks.map((t: any) => t.id)).toEqual(ids.slice(0, 3).reverse());
    expect(done.next_cursor).toBeNull();
  });

  it.each(['limit=0', 'limit=101', 'limit=x', 'status=done', 'cursor=../../etc'])('refuses %s with a 400', async (qs) => {
    const res = await call(`/tasks?${qs}`);
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain(qs.split('=')[0]);
  });
});

describe('retry and replay', () => {
  it('POST /tasks/{id}/retry makes a failed task due now with a fresh retry budget', async () => {
    const h = hook('seq', 'codes=500,500,200');
    const { task } = await enqueue(h.url, 'x', { max_retries: '0' });
    await consume([task.id]);
    expect((await getTask(task.id)).status).toBe('failed');
    const res = await call(`/tasks/${task.id}/retry`, { method: 'POST' });
    expect(res.status).toBe(202);
    const replayed = await json(res);
    expect(replayed).toMatchObject({ status: 'retry', attempts: 1 });
    expect(Date.parse(replayed.due_at)).toBeLessThanOrEqual(Date.now());
    await consume([task.id]);
    expect((await getTask(task.id)).status).toBe('failed'); // max_retries 0: one attempt per replay
    await call(`/tasks/${task.id}/retry`, { method: 'POST' });
    await consume([task.id]);
    expect(await getTask(task.id)).toMatchObject({ status: 'completed', attempts: 3 });
    const { attempts } = await json(call(`/tasks/${task.id}/attempts`));
    expect(attempts.map((a: any) => a.status_code)).toEqual([500, 500, 200]);
  });

  it('re-runs a completed task and brings a delayed task forward', async () => {
    const h = hook('ok');
    const done = (await enqueue(h.url)).task;
    await consume([done.id]);
    await call(`/tasks/${done.id}/retry`, { method: 'POST' });
    await consume([done.id]);
    expect(await received(h.key)).toHaveLength(2);
    const later = (await enqueue(h.url, 'x', { delay: '3600' })).task;
    const res = await json(call(`/tasks/${later.id}/retry`, { method: 'POST' }));
    expect(res.status).toBe('pending');
    await consume([later.id]);
    expect((await getTask(later.id)).status).toBe('completed');
  });

  it('answers 409 for a task in progress and 404 for an unknown one', async () => {
    const { task } = await enqueue(hook('ok').url);
    await env.DB.prepare("UPDATE tasks SET status = 'in_progress' WHERE id = ?").bind(task.id).run();
    const busy = await call(`/tasks/${task.id}/retry`, { method: 'POST' });
    expect(busy.status).toBe(409);
    expect((await json(busy)).error.code).toBe('conflict');
    expect((await call('/tasks/01NOPE/retry', { method: 'POST' })).status).toBe(404);
  });

  it('bulk replay and DELETE / reach a sparse status across calls by following next_cursor', async () => {
    await call('/?all=true', { method: 'DELETE' });
    const h = hook('ok');
    const oldest = [];
    for (let i = 0; i < 2; i++) oldest.push((await enqueue(h.url)).task.id);
    await env.DB.prepare("UPDATE tasks SET status = 'failed' WHERE id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(oldest)).run();
    // More newer tasks than one replay call walks (20 steps of 500 rows): the failed ones lie beyond.
    const items = JSON.stringify(Array.from({ length: 100 }, () => ({ url: h.url, delay: 3600 })));
    for (let i = 0; i < 110; i++) await call('/batch', { method: 'POST', body: items, headers: { 'content-type': 'application/json' } });
    let retried = 0;
    let calls = 0;
    for (let cursor: string | null = ''; cursor !== null; calls++) {
      const page = (await json(call(`/tasks/retry?status=failed${cursor ? `&cursor=${cursor}` : ''}`, { method: 'POST' }))) as { retried: number; next_cursor: string | null };
      retried += page.retried;
      cursor = page.next_cursor;
    }
    expect(retried).toBe(2);
    expect(calls).toBeGreaterThan(1);
    for (const id of oldest) expect((await getTask(id)).status).toBe('pending');
    const gone = (await json(call('/?status=pending', { method: 'DELETE' }))) as { deleted: number; next_cursor: string | null };
    expect(gone).toEqual({ deleted: 11_002, next_cursor: null });
  }, 60_000);

  it('POST /tasks/retry replays failed tasks in bulk', async () => {
    await call('/?all=true', { method: 'DELETE' });
    const h = hook('seq', 'codes=500,500,500,200');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await enqueue(h.url, 'x', { max_retries: '0' })).task.id);
    await consume(ids);
    const res = await call('/tasks/retry?status=failed', { method: 'POST' });
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({ retried: 3, next_cursor: null });
    expect(await json(call('/tasks/retry?status=failed', { method: 'POST' }))).toEqual({ retried: 0, next_cursor: null });
    expect((await call('/tasks/retry', { method: 'POST' })).status).toBe(400); // a bulk replay names its status
    expect((await call('/tasks/retry?status=in_progress', { method: 'POST' })).status).toBe(400);
    await consume(ids);
    for (const id of ids) expect((await getTask(id)).status).toBe('completed');
  });
});
