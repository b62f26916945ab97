import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { nextRun } from '../src/schedules/cron';
import { sweep } from '../src/sweep/sweep';
import { call, consume, hook, json, received } from './helpers';

// Schedules you can see and change: GET shows the task template, PATCH changes it (and the cron).
const send = (method: string, path: string, body: object) => call(path, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

describe('a schedule\'s template', () => {
  it('GET /schedules/{id} shows the template: body, headers, timeout, max_retries, flow_key', async () => {
    const made = await json(send('POST', '/schedules', {
      cron: '0 9 * * *', url: hook('ok').url, body: '{"report":"€"}', headers: { 'Content-Type': 'application/json', 'X-Team': 'ops' }, timeout: 30, max_retries: 4, flow_key: 'reports',
    }));
    const got = await json(call(`/schedules/${made.id}`));
    // POST answers with what GET shows: the template, body included.
    expect(made).toEqual(got);
    expect(got).toMatchObject({
      body: '{"report":"€"}', body_base64: Buffer.from('{"report":"€"}').toString('base64'),
      headers: { 'X-Team': 'ops', 'Content-Type': 'application/json' }, timeout: 30, max_retries: 4, flow_key: 'reports',
    });
  });

  it('PATCH changes the cron and zone (next run recomputed) and the template, which the next run uses', async () => {
    const h = hook('ok');
    const made = await json(send('POST', '/schedules', { cron: '0 9 * * *', url: hook('ok').url, body: 'old', flow_key: 'f1', name: 'n' }));
    const before = Date.now();
    const res = await send('PATCH', `/schedules/${made.id}`, { cron: '30 6 * * *', timezone: 'Asia/Tokyo', url: h.url, body: 'new', headers: { 'X-Run': 'patched' }, timeout: 12, max_retries: 2, flow_key: null, name: null });
    expect(res.status).toBe(200);
    const changed = await json(res);
    expect(changed).toMatchObject({ cron: '30 6 * * *', timezone: 'Asia/Tokyo', url: h.url, body: 'new', timeout: 12, max_retries: 2, flow_key: null, name: null });
    expect(Date.parse(changed.next_run_at)).toBe(nextRun('30 6 * * *', 'Asia/Tokyo', before));
    // Only what is named changes.
    const renamed = await json(send('PATCH', `/schedules/${made.id}`, { name: 'again' }));
    expect(renamed).toMatchObject({ name: 'again', body: 'new', url: h.url, headers: { 'X-Run': 'patched', 'Content-Type': 'application/x-www-form-urlencoded' }, cron: '30 6 * * *' });
    // The next run makes its task from the changed template.
    await env.DB.prepare('UPDATE schedules SET next_run_at = ? WHERE id = ?').bind(Date.now() - 1, made.id).run();
    await sweep(env);
    const { tasks } = await json(call(`/tasks?schedule_id=${made.id}`));
    expect(tasks).toHaveLength(1);
    await consume([tasks[0].id]);
    const [got] = await received(h.key);
    expect(Buffer.from(got.body, 'base64').toString()).toBe('new');
    expect(got.headers['x-run']).toBe('patched');
  });

  it('refuses a bad patch with a 400 naming the field, and an unknown schedule with 404', async () => {
    const made = await json(send('POST', '/schedules', { cron: '0 9 * * *', url: hook('ok').url }));
    const cases: [object, string][] = [
      [{ cron: '61 * * * *' }, 'cron'], [{ timezone: 'Mars/Olympus' }, 'timezone'], [{ url: 'ftp://nope' }, 'url'],
      [{ body: 'a', body_base64: 'YQ==' }, 'body'], [{ delay: 5 }, 'delay'], [{}, 'at least one'], [{ timeout: 0 }, 'timeout'],
    ];
    for (const [patch, named] of cases) {
      const res = await send('PATCH', `/schedules/${made.id}`, patch);
      expect(res.status, JSON.stringify(patch)).toBe(400);
      expect((await json(res)).error.message).toContain(named);
    }
    // An unknown field is named alone: the patch is not also called empty.
    expect((await json(send('PATCH', `/schedules/${made.id}`, { bogus: 1 }))).error.message).toBe('request: Unrecognized key: "bogus"');
    const text = await call(`/schedules/${made.id}`, { method: 'PATCH', body: 'name=x', headers: { 'content-type': 'text/plain' } });
    expect([text.status, (await json(text)).error.message]).toEqual([415, 'the body must be JSON: send it with Content-Type: application/json']);
    expect((await json(call(`/schedules/${made.id}`))).cron).toBe('0 9 * * *');
    expect((await send('PATCH', '/schedules/01NOSUCHSCHEDULE0000000000', { name: 'x' })).status).toBe(404);
  });
});
