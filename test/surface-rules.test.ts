import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { TorqueClient, TorqueError } from '../client/index.ts';
import { call, callWith, consume, enqueue, getTask, hook, json, sendJson } from './helpers';

// The rules of issue 20's "nothing is deleted that the request did not name", in the runtime:
// dot segments, explicit bulk deletion, unknown parameters, oversize bodies.
const countTasks = async (where = '1') => (await env.DB.prepare(`SELECT count(*) n FROM tasks WHERE ${where}`).first<{ n: number }>())!.n;

// Every way a dot segment can be written in a path; clients and workerd remove them all.
const DOTS = ['.', '..', '%2E', '%2e', '%2E%2E', '%2e%2e', '.%2E', '%2e.', '.%2e'];

describe('dot segments', () => {
  it('no path that names one thing with a dot segment deletes, replays or changes anything else', async () => {
    for (let i = 0; i < 3; i++) await enqueue(hook('ok').url);
    const failed = (await enqueue(hook('status', 'code=500').url, 'x', { max_retries: '0' })).task.id;
    await consume([failed]);
    expect((await getTask(failed)).status).toBe('failed');
    const before = await countTasks();
    expect(before).toBeGreaterThanOrEqual(3);
    for (const dot of DOTS) {
      for (const [method, path] of [
        ['DELETE', `/topics/${dot}`], ['DELETE', `/flows/${dot}`], ['DELETE', `/tasks/${dot}`], ['DELETE', `/schedules/${dot}`],
        ['DELETE', `/admin/keys/${dot}`], ['POST', `/tasks/${dot}/retry`], ['POST', `/topics/${dot}`], ['POST', `/destinations/${dot}/reset`],
        ['POST', `/flows/${dot}/pause`], ['POST', `/schedules/${dot}/resume`], ['PUT', `/flows/${dot}`], ['PUT', `/topics/${dot}`],
      ]) {
        const res = await call(path, { method, body: method === 'GET' || method === 'DELETE' ? undefined : '{}' });
        expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
        expect(res.status, `${method} ${path}`).toBeLessThan(500);
        await res.arrayBuffer();
      }
    }
    expect(await countTasks()).toBe(before);
    expect((await getTask(failed)).status).toBe('failed');
  });

  it('refuses a flow key or topic name that is a dot segment where it is made, naming the field and the pattern', async () => {
    for (const key of ['.', '..']) {
      const q = await call(`/?url=${encodeURIComponent(hook('ok').url)}&flow_key=${key}`, { method: 'POST' });
      expect(q.status).toBe(400);
      expect((await json(q)).error.message).toMatch(/^flow_key: must match .*\(\?!.*not "\." or "\.\."/);
      const h = await call(`/?url=${encodeURIComponent(hook('ok').url)}`, { method: 'POST', headers: { 'torque-flow-key': key } });
      expect((await json(h)).error.message).toMatch(/^torque-flow-key: must match/);
      const b = await sendJson('/batch', 'POST', [{ url: hook('ok').url, flow_key: key }]);
      expect(b.status).toBe(400);
      expect((await json(b)).error.message).toMatch(/^\[0\]\.flow_key: must match/);
      const s = await sendJson('/schedules', 'POST', { cron: '* * * * *', url: hook('ok').url, flow_key: key });
      expect((await json(s)).error.message).toMatch(/flow_key: must match/);
    }
    // Dots inside a name are fine: only a whole segment of dots is one.
    expect((await call(`/?url=${encodeURIComponent(hook('ok').url)}&flow_key=a..b`, { method: 'POST' })).status).toBe(201);
    expect((await sendJson('/topics/...', 'PUT', { endpoints: [hook('ok').url] })).status).toBe(200);
  });

  it('the typed client refuses ids that are not task ids before sending anything', async () => {
    const sent: string[] = [];
    const client = new TorqueClient({
      url: 'http://torque.test',
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => {
        sent.push(`${init?.method} ${input}`);
        return exports.default.fetch(new Request(input, init));
      }) as typeof fetch,
    });
    await enqueue(hook('ok').url);
    const before = await countTasks();
    for (const id of ['..', '.', '%2E%2E', '', 'a/b', '../..', '01KB3M7Q2Z8Y4X6W5V3T2S1R0', 'x'.repeat(26)]) {
      for (const attempt of [() => client.delete(id), () => client.get(id), () => client.attempts(id), () => client.retry(id)]) {
        await expect(attempt()).rejects.toSatisfy((e) => e instanceof TorqueError && e.status === 400 && /not a task id/.test(e.message));
      }
    }
    expect(sent).toEqual([]);
    expect(await countTasks()).toBe(before);
    const { task } = await enqueue(hook('ok').url);
    expect((await client.get(task.id)).id).toBe(task.id);
    // deleteAll uses the explicit form.
    const failed = (await env.DB.prepare("SELECT count(*) n FROM tasks WHERE status = 'failed'").first<{ n: number }>())!.n;
    expect(await client.deleteAll('failed')).toBe(failed);
    expect(sent.at(-1)).toBe('DELETE http://torque.test/?status=failed');
  });
});

describe('bulk deletion says so', () => {
  it('a bare DELETE / is a 400 that explains the explicit form; all=true deletes everything', async () => {
    const { task } = await enqueue(hook('ok').url);
    const bare = await call('/', { method: 'DELETE' });
    expect(bare.status).toBe(400);
    expect((await json(bare)).error.message).toMatch(/DELETE \/\?all=true.*status=/);
    for (const path of ['/?all=false', '/?all=1', '/?cursor=0']) expect((await call(path, { method: 'DELETE' })).status, path).toBe(400);
    expect((await call(`/tasks/${task.id}`)).status).toBe(200);
    const all = await json<{ deleted: number; next_cursor: string | null }>(call('/?all=true', { method: 'DELETE' }));
    expect(all.deleted).toBeGreaterThanOrEqual(1);
    expect(await countTasks()).toBe(0);
  });

  it('status= with all=true deletes only that status: status narrows, all=true never widens it', async () => {
    const kept = (await enqueue(hook('ok').url)).task.id;
    const failed = (await enqueue(hook('status', 'code=500').url, 'x', { max_retries: '0' })).task.id;
    await consume([failed]);
    expect((await getTask(failed)).status).toBe('failed');
    const others = await countTasks() - (await countTasks("status = 'failed'"));
    const res = await json<{ deleted: number }>(call('/?status=failed&all=true', { method: 'DELETE' }));
    expect(res.deleted).toBeGreaterThanOrEqual(1);
    expect(await countTasks("status = 'failed'")).toBe(0);
    expect(await countTasks()).toBe(others);
    expect((await call(`/tasks/${failed}`)).status).toBe(404);
    expect((await call(`/tasks/${kept}`)).status).toBe(200);
  });
});

describe('unknown query parameters', () => {
  it('are refused on every endpoint, each one named; DELETE /?stauts=failed deletes nothing', async () => {
    const { task } = await enqueue(hook('ok').url);
    const typo = await call('/?all=true&stauts=failed', { method: 'DELETE' });
    expect(typo.status).toBe(400);
    expect((await json(typo)).error.message).toMatch(/unknown query parameter for DELETE \/: stauts \(it takes status, all, cursor\)/);
    expect((await call(`/tasks/${task.id}`)).status).toBe(200);
    const retries = await call(`/?url=${encodeURIComponent(hook('ok').url)}&max_retry=3&x=1`, { method: 'POST' });
    expect((await json(retries)).error.message).toMatch(/unknown query parameters for POST \/: max_retry, x .*came after url: if they belong to the hook, the hook URL's own query string must be URL-encoded/);
    for (const [method, path] of [['GET', '/stats?x=1'], ['GET', `/tasks/${task.id}?verbose=1`], ['GET', '/topics?limit=5'], ['GET', '/openapi.json?v=2'],
      ['GET', '/metrics?x'], ['GET', '/?x=1'], ['POST', '/tasks/retry?status=failed&all=true'], ['GET', '/dashboard?page=2'], ['GET', '/admin/apps?x=1']]) {
      const res = await call(path, { method, headers: { authorization: 'Bearer test-admin-token' } });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect((await json(res)).error.message, path).toMatch(/unknown query parameter/);
    }
    expect((await call('/tasks?status=pending&limit=5')).status).toBe(200);
    expect((await call('/dashboard?status=pending')).status).toBe(200);
  });

  it("POST /: a hook URL's unencoded query string is refused with the likely cause, never half-stored", async () => {
    const h = hook('ok');
    const split = await call(`/?url=${h.url}?a=1&b=2`, { method: 'POST' });
    expect(split.status).toBe(400);
    expect((await json(split)).error.message).toMatch(/unknown query parameter for POST \/: b .*came after url: the hook URL's own query string must be URL-encoded.*--data-urlencode/);
    const delay = await call(`/?url=${h.url}?a=1&delay=5`, { method: 'POST' });
    expect(delay.status).toBe(400);
    expect((await json(delay)).error.message).toMatch(/^url: holds an unencoded "\?" and is followed by delay/);
    // Encoded, or with Torque's parameters first, it is one URL.
    const encoded = await json(call(`/?delay=5&url=${encodeURIComponent(`${h.url}?a=1&b=2`)}`, { method: 'POST' }));
    expect(encoded.url).toBe(`${h.url}?a=1&b=2`);
    expect((await call(`/?delay=5&url=${h.url}?a=1`, { method: 'POST' })).status).toBe(201);
  });
});

describe('oversize bodies', () => {
  // A body that counts what is read of it: a 413 "before parsing" reads at most the limit.
  const counted = (total: number) => {
    let pulled = 0;
    const chunk = new Uint8Array(1000).fill(0x20);
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (pulled >= total) return ctl.close();
        pulled += chunk.length;
        ctl.enqueue(chunk);
      },
    });
    return { stream, pulled: () => pulled };
  };

  it('every route refuses a body over 4 × MAX_BODY_BYTES with 413 before reading it all (JSON ones too)', async () => {
    const vars = { MAX_BODY_BYTES: '1000' };
    for (const [method, path] of [['PUT', '/topics/big'], ['PUT', '/flows/big'], ['POST', '/schedules'], ['POST', '/batch'], ['POST', '/admin/apps'],
      ['POST', '/dashboard/login'], ['POST', '/'], ['POST', '/topics/big'], ['DELETE', '/?all=true']]) {
      const body = counted(1_000_000);
      const res = await callWith(vars, path, { method, body: body.stream, headers: { 'content-type': 'application/json', authorization: 'Bearer test-admin-token' }, duplex: 'half' } as RequestInit);
      expect(res.status, `${method} ${path}`).toBe(413);
      expect((await json(res)).error.code).toBe('body_too_large');
      expect(body.pulled(), `${method} ${path}`).toBeLessThanOrEqual(4000 + 2000);
    }
    // With a Content-Length, nothing is read at all.
    const res = await callWith(vars, '/flows/big', { method: 'PUT', body: `{"rate":1,"x":"${'a'.repeat(5000)}"}`, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect((await call('/flows/big')).status).toBe(404);
  });
});
