import { describe, expect, it } from 'vitest';
import { call, consume, enqueue, getTask, hook, json, makeDue, received } from './helpers';

// Success and failure callbacks, in the runtime with local D1 and the hook server.
/** The callback task reporting on `id` (found by listing: it is an ordinary task). */
async function reportOn(id: string) {
  const { tasks } = await json<{ tasks: Record<string, any>[] }>(call('/tasks?limit=100'));
  return tasks.find((t) => t.callback_of === id);
}
const bodyOf = (r: { body: string }) => JSON.parse(Buffer.from(r.body, 'base64').toString());

describe('callbacks', () => {
  it('reports a completion to Torque-Callback with the documented body, as an ordinary signed task', async () => {
    const done = hook('ok');
    const told = hook('ok');
    const { task } = await enqueue(done.url, 'x=1', {}, { 'torque-callback': told.url, 'torque-failure-callback': hook('ok').url });
    expect(task).toMatchObject({ callback: told.url, callback_of: null });
    await consume([task.id]);
    const report = await reportOn(task.id);
    expect(report).toMatchObject({ url: told.url, status: 'pending', callback: null, failure_callback: null, callback_of: task.id });
    await consume([report!.id]);
    const [got] = await received(told.key);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['webhook-signature']).toMatch(/^v1,/);
    expect(bodyOf(got)).toEqual({
      type: 'task.completed', at: expect.any(String),
      task: { id: task.id, url: done.url, method: 'POST', status: 'completed', attempts: 1, last_status_code: 200, last_error: null, response_base64: btoa('ok') },
    });
    expect((await getTask(report!.id)).status).toBe('completed');
    // The dashboard shows what the report is about.
    const page = await (await call(`/dashboard/tasks/${report!.id}`)).text();
    expect(page).toContain('reports on');
    expect(page).toContain(task.id);
  });

  it('reports a failure for good to Torque-Failure-Callback only', async () => {
    const told = hook('ok');
    const success = hook('ok');
    const { task } = await enqueue(hook('status', 'code=500').url, 'x', { max_retries: '1', failure_callback: told.url, callback: success.url });
    await consume([task.id]);
    expect(await reportOn(task.id)).toBeUndefined(); // a retry is not an outcome yet
    await makeDue(task.id);
    await consume([task.id]);
    const report = await reportOn(task.id);
    await consume([report!.id]);
    expect(bodyOf((await received(told.key))[0]).task).toMatchObject({ id: task.id, status: 'failed', attempts: 2, last_status_code: 500 });
    expect(await received(success.key)).toHaveLength(0);
  });

  it('retries a failing callback without touching the task it reports on', async () => {
    const { task } = await enqueue(hook('ok').url, 'x', { callback: hook('status', 'code=503').url });
    await consume([task.id]);
    const before = await getTask(task.id);
    const report = await reportOn(task.id);
    await consume([report!.id]);
    expect((await getTask(report!.id)).status).toBe('retry');
    expect(await getTask(task.id)).toEqual(before);
  });

  it('reports a binary answer as its own bytes (not decoded as text and re-encoded)', async () => {
    const told = hook('ok');
    const { task } = await enqueue(hook('bytes').url, 'x', { callback: told.url });
    await consume([task.id]);
    const report = await reportOn(task.id);
    await consume([report!.id]);
    const sent = Buffer.from(bodyOf((await received(told.key))[0]).task.response_base64, 'base64');
    expect(sent.length).toBe(1024);
    expect([...sent]).toEqual(Array.from({ length: 1024 }, (_, i) => i % 256));
  });

  it('refuses a callback that is not an absolute http(s) URL, naming it', async () => {
    const res = await call(`/?url=${encodeURIComponent(hook('ok').url)}`, { method: 'POST', body: 'x', headers: { 'torque-callback': 'ftp://nope' } });
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain('torque-callback');
    const batch = await call('/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ url: hook('ok').url, failure_callback: 'nope' }]) });
    expect(batch.status).toBe(400);
    expect((await json(batch)).error.message).toContain('failure_callback');
  });
});
