import { describe, expect, it } from 'vitest';
import { call, consume, enqueue, getTask, hook, received } from './helpers';

describe('smoke', () => {
  it('enqueues, consumes, completes', async () => {
    const h = hook('ok');
    const { res, task } = await enqueue(h.url, 'new_user_id=1234', {}, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/tasks/${task.id}`);
    expect(task.status).toBe('pending');
    await consume([task.id]);
    const done = await getTask(task.id);
    expect(done.status).toBe('completed');
    const got = await received(h.key);
    expect(got).toHaveLength(1);
    expect(Buffer.from(got[0].body, 'base64').toString()).toBe('new_user_id=1234');
    const stats = await (await call('/stats')).json();
    expect(stats.tasks.completed).toBeGreaterThanOrEqual(1);
  });
});
