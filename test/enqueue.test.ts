import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { call, consume, enqueue, getTask, hook, received } from './helpers';

async function expectError(res: Response, status: number, mentions: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/json');
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(typeof body.error.code).toBe('string');
  expect(body.error.message).toContain(mentions);
}

describe('GET /', () => {
  it('answers with the service banner', async () => {
    const res = await call('/');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'torque', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });
});

describe('POST / (enqueue)', () => {
  it('stores a task and answers 201 with Location and the task JSON', async () => {
    const h = hook('ok');
    const { res, task } = await enqueue(h.url, 'a=1', { timeout: '5', max_retries: '3', method: 'put' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/tasks/${task.id}`);
    expect(task).toMatchObject({ url: h.url, method: 'PUT', status: 'pending', attempts: 0, max_retries: 3, timeout: 5 });
    expect(task.id).toMatch(/^[0-9A-Z]{26}$/);
    for (const k of ['created_at', 'updated_at', 'due_at']) expect(new Date(task[k]).toISOString()).toBe(task[k]);
    expect(task.completed_at).toBeNull();
    expect(task.last_status_code).toBeNull();
    expect(task.last_error).toBeNull();
    expect(await getTask(task.id)).toEqual(task);
  });

  it('applies the configured defaults', async () => {
    const { task } = await enqueue(hook('ok').url);
    expect(task).toMatchObject({ method: 'POST', timeout: 60, max_retries: 36 });
  });

  it('makes ids that sort by creation time', async () => {
    const a = (await enqueue(hook('ok').url)).task.id;
    await new Promise((r) => setTimeout(r, 3));
    const b = (await enqueue(hook('ok').url)).task.id;
    expect(a < b).toBe(true);
  });

  it("delivers the seed example's form body with its content type", async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url, new URLSearchParams({ new_user_id: '1234' }));
    await consume([task.id]);
    const [got] = await received(h.key);
    expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    expect(Buffer.from(got.body, 'base64').toString()).toBe('new_user_id=1234');
  });

  it('defaults the content type to form-encoded when the client sends none', async () => {
    const h = hook('ok');
    const body = new Blob(['k=v']).stream();
    const res = await call(`/?url=${encodeURIComponent(h.url)}`, { method: 'POST', body, duplex: 'half' } as RequestInit);
    const task = (await res.json()) as { id: string };
    await consume([task.id]);
    const [got] = await received(h.key);
    expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  it('keeps binary bodies byte for byte', async () => {
    const h = hook('ok');
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 7919) % 256);
    const { task } = await enqueue(h.url, bytes, {}, { 'content-type': 'application/octet-stream' });
    await consume([task.id]);
    const [got] = await received(h.key);
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(new Uint8Array(Buffer.from(got.body, 'base64'))).toEqual(bytes);
  });

  it('accepts a body of exactly MAX_BODY_BYTES and refuses one byte more with 413', async () => {
    const url = hook('ok').url;
    const max = Number(env.MAX_BODY_BYTES);
    const ok = await enqueue(url, new Uint8Array(max), {}, { 'content-type': 'application/octet-stream' });
    expect(ok.res.status).toBe(201);
    const res = await call(`/?url=${encodeURIComponent(url)}`, { method: 'POST', body: new Uint8Array(max + 1) });
    await expectError(res, 413, 'body');
  });

  it.each([
    ['', 'url'],
    ['url=', 'url'],
    ['url=not-a-url', 'url'],
    ['url=ftp://example.com/x', 'url'],
    ['url=javascript:alert(1)', 'url'],
    [`url=http://example.com/${'a'.repeat(2100)}`, 'url'],
    ['url=http://example.com&method=TRACE', 'method'],
    ['url=http://example.com&timeout=abc', 'timeout'],
    ['url=http://example.com&timeout=0', 'timeout'],
    ['url=http://example.com&timeout=1.5', 'timeout'],
    ['url=http://example.com&timeout=601', 'timeout'],
    ['url=http://example.com&delay=-1', 'delay'],
    ['url=http://example.com&delay=31536001', 'delay'],
    ['url=http://example.com&max_retries=101', 'max_retries'],
    ['url=http://example.com&max_retries=1e2', 'max_retries'],
  ])('refuses bad input #%# with a 400 naming the field', async (qs, field) => {
    const res = await call(`/?${qs}`, { method: 'POST', body: 'x' });
    await expectError(res, 400, field);
  });

  it('stores nothing for a refused request', async () => {
    // Rows and counters, not the whole of /stats: its overdue age and last minute move with the clock.
    const rows = () => env.DB.prepare('SELECT count(*) AS n FROM tasks').first('n');
    const counted = async () => ((await (await call('/stats')).json()) as { tasks: unknown }).tasks;
    const before = { rows: await rows(), counted: await counted() };
    expect((await call('/?url=nope', { method: 'POST', body: 'x' })).status).toBe(400);
    expect({ rows: await rows(), counted: await counted() }).toEqual(before);
  });
});

describe('tasks', () => {
  it('404s unknown tasks (and other resources) with the JSON error shape, naming what was asked for', async () => {
    await expectError(await call('/tasks/01NOPE'), 404, 'task 01NOPE not found');
    await expectError(await call('/tasks/01NOPE?include=body'), 404, 'task 01NOPE not found');
    await expectError(await call('/tasks/01NOPE', { method: 'DELETE' }), 404, 'task 01NOPE not found');
    await expectError(await call('/tasks/01NOPE/attempts'), 404, 'task 01NOPE not found');
    await expectError(await call('/tasks/01NOPE/retry', { method: 'POST' }), 404, 'task 01NOPE not found');
    await expectError(await call('/flows/no-such-flow'), 404, 'flow no-such-flow not found');
    await expectError(await call('/topics/no-such-topic'), 404, 'topic no-such-topic not found');
    await expectError(await call('/schedules/01NOPE'), 404, 'schedule 01NOPE not found');
  });

  it('405s a known path with the wrong method, 404s unknown paths', async () => {
    await expectError(await call('/stats', { method: 'POST' }), 405, 'POST');
    await expectError(await call('/nowhere'), 404, '/nowhere');
  });

  it('deletes a task, which is then never called', async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url);
    const res = await call(`/tasks/${task.id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect((await call(`/tasks/${task.id}`)).status).toBe(404);
    await consume([task.id]);
    expect(await received(h.key)).toHaveLength(0);
  });

  it('DELETE / deletes all tasks, or only those with a status', async () => {
    await call('/?all=true', { method: 'DELETE' }); // storage is per file, not per test: start empty
    const a = (await enqueue(hook('ok').url)).task;
    const b = (await enqueue(hook('ok').url)).task;
    await consume([a.id]);
    const onlyDone = await call('/?status=completed', { method: 'DELETE' });
    expect(await onlyDone.json()).toEqual({ deleted: 1, next_cursor: null });
    expect((await call(`/tasks/${b.id}`)).status).toBe(200);
    const bad = await call('/?status=nope', { method: 'DELETE' });
    await expectError(bad, 400, 'status');
    const all = (await (await call('/?all=true', { method: 'DELETE' })).json()) as { deleted: number };
    expect(all.deleted).toBeGreaterThanOrEqual(1);
    expect((await call(`/tasks/${b.id}`)).status).toBe(404);
    const stats = (await (await call('/stats')).json()) as { tasks: Record<string, number> };
    expect(Object.values(stats.tasks).every((n) => n === 0)).toBe(true);
  });
});
