// Poison and abuse: one bad task never hurts another, and Torque cannot be turned into an amplifier.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { call, callWith, consume, enqueue, getTask, hook, received, sendJson } from './helpers';

const post = (path: string, body: unknown, vars: Record<string, unknown> = {}) => sendJson(path, 'POST', body, vars);
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

describe('poison tasks', () => {
  it.each([
    [{ 'X-Poison': 'a\r\nb' }, '[0].headers.X-Poison: must not contain CR, LF or NUL'],
    [{ 'X-Poison': 'a\nb' }, '[0].headers.X-Poison'],
    [{ 'X-Poison': 'a\u0000b' }, '[0].headers.X-Poison'],
    [{ 'X-Wide': 'caf\u00e9 \u{1F600}' }, '[0].headers.X-Wide: must be printable ASCII'],
    [{ 'X-Bell': 'a\u0007b' }, '[0].headers.X-Bell: must be printable ASCII'],
    [{ 'Bad Name': 'x' }, '[0].headers.Bad Name'],
    [{ 'Content-Type': 'text/plain\r\nX-Smuggled: 1' }, '[0].content-type: must not contain CR, LF or NUL'],
  ])('refuses a header the runtime would refuse at call time: %j', async (headers, mentions) => {
    const res = await post('/batch', [{ url: hook('ok').url, headers, body: 'x' }]);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain(mentions);
  });

  it('a poison task forced past validation fails alone; innocent tasks of another app in its batch complete', async () => {
    const poisonHook = hook('ok');
    const poison = (await enqueue(poisonHook.url)).task;
    const badMethod = (await enqueue(poisonHook.url)).task;
    await env.DB.prepare('UPDATE tasks SET headers = ? WHERE id = ?').bind(JSON.stringify({ 'x-poison': 'a\r\nb' }), poison.id).run();
    await env.DB.prepare("UPDATE tasks SET method = 'GE T' WHERE id = ?").bind(badMethod.id).run();
    const innocent = [hook('ok'), hook('ok'), hook('ok')];
    const ids: string[] = [];
    for (const h of innocent) ids.push((await enqueue(h.url)).task.id);
    await env.DB.prepare("UPDATE tasks SET app_id = 'other-app' WHERE id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(ids)).run();

    const result = await consume([ids[0], poison.id, ids[1], badMethod.id, ids[2]]);
    expect(result.ackAll).toBe(true);
    for (const [i, h] of innocent.entries()) {
      const row = await env.DB.prepare('SELECT status, attempts FROM tasks WHERE id = ?').bind(ids[i]).first();
      expect(row).toEqual({ status: 'completed', attempts: 1 });
      expect(await received(h.key)).toHaveLength(1);
    }
    // Deterministic: failed at once (max_retries is 36), its own error kept, the hook never called.
    for (const id of [poison.id, badMethod.id]) {
      const t = await getTask(id);
      expect(t).toMatchObject({ status: 'failed', attempts: 1, last_status_code: null });
      expect(t.last_error).toMatch(/^internal: /);
    }
    expect(await received(poisonHook.key)).toEqual([]);
  });
});

describe('header totals', () => {
  const many = (n: number, size = 1) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v'.repeat(size)]));

  it('accepts 64 passthrough headers and refuses 65', async () => {
    expect((await post('/batch', [{ url: hook('ok').url, headers: many(64) }])).status).toBe(201);
    const res = await post('/batch', [{ url: hook('ok').url, headers: many(65) }]);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toBe('[0].headers: at most 64 headers, got 65');
  });

  it('refuses more than 16 KiB of headers in all, on POST / and /batch', async () => {
    const res = await post('/batch', [{ url: hook('ok').url }, { url: hook('ok').url, headers: many(3, 8000) }]);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/^\[1\]\.headers: at most 16384 bytes/);
    const passthrough = Object.fromEntries(Object.entries(many(3, 8000)).map(([k, v]) => [`torque-passthrough-${k}`, v]));
    const single = await call(`/?url=${encodeURIComponent(hook('ok').url)}`, { method: 'POST', body: 'x', headers: passthrough });
    expect(single.status).toBe(400);
    expect((await errorOf(single)).message).toMatch(/^headers: at most 16384 bytes/);
  });
});

describe('loops', () => {
  it("refuses requests carrying Torque's delivery headers with 400 loop_detected, unless ALLOW_CHAINING", async () => {
    // The headers of a real delivery, sent back at Torque's bulk replay as a looping hook would.
    const h = hook('ok');
    const { task } = await enqueue(h.url);
    await consume([task.id]);
    const [delivery] = await received(h.key);
    const forwarded = Object.fromEntries(Object.entries(delivery.headers).filter(([k]) => k.startsWith('torque-') || k.startsWith('webhook-')));
    const res = await callWith({}, '/tasks/retry?status=completed', { method: 'POST', headers: forwarded });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('loop_detected');
    expect((await getTask(task.id)).status).toBe('completed'); // nothing was replayed
    const chained = await callWith({ ALLOW_CHAINING: 'true' }, '/tasks/retry?status=completed', { method: 'POST', headers: forwarded });
    expect(chained.status).toBe(202);
  });

  it('counts replays against the rate limit', async () => {
    const vars = { ENQUEUE_LIMITER: (env as unknown as { TEST_LIMITER: RateLimit }).TEST_LIMITER, AUTHENTICATE: 'true', ADMIN_TOKEN: 'a' };
    const admin = await callWith(vars, '/admin/apps', { method: 'POST', headers: { authorization: 'Bearer a', 'content-type': 'application/json' }, body: JSON.stringify({ name: 'replayer' }) });
    const { api_key } = (await admin.json()) as { api_key: string };
    const statuses: number[] = [];
    // Fixed 10 s windows of 3 (see auth.test.ts): a busy machine may cross into the next one.
    for (let i = 0; i < 8; i++) {
      const res = await callWith(vars, '/tasks/retry?status=failed', { method: 'POST', headers: { authorization: `Bearer ${api_key}` } });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    expect(statuses.filter((s) => s === 202).length, String(statuses)).toBeLessThanOrEqual(6);
    expect(statuses.filter((s) => s !== 202).every((s) => s === 429), String(statuses)).toBe(true);
    expect(statuses).toContain(429);
  });
});

describe('client input never causes a 5xx', () => {
  // The oracle is written out, not atob (which the code uses): RFC 4648 base64 without white
  // space, padding optional but only where it completes a group of 4; a lone last character never decodes.
  it.each([
    ['a', null],
    ['abcde', null],
    ['YQ', [97]],
    ['YQ=', null],
    ['YQ==', [97]],
    ['YWJj', [97, 98, 99]],
    ['YWJj/+8=', [97, 98, 99, 255, 239]],
    ['Y Q = =', null],
  ] as const)('a body_base64 of %j is a 400 or decodes to bytes %j', async (b64, bytes) => {
    const h = hook('ok');
    const res = await post('/batch', [{ url: h.url, body_base64: b64 }]);
    expect(res.status).toBe(bytes === null ? 400 : 201);
    if (bytes === null) return void expect((await errorOf(res)).message).toMatch(/^\[0\]\.body_base64: must be base64/);
    const { tasks } = (await res.json()) as { tasks: { id: string }[] };
    const stored = await env.DB.prepare('SELECT body FROM tasks WHERE id = ?').bind(tasks[0].id).first<{ body: ArrayBuffer }>();
    expect([...new Uint8Array(stored!.body)]).toEqual(bytes);
  });

  it('a dashboard action on an id with CR/LF answers a redirect, not a 500', async () => {
    const res = await callWith({}, '/dashboard/tasks/%0d%0aSet-Cookie:%20x=1/retry', { method: 'POST', headers: { origin: 'http://torque.test' } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard/tasks/%0D%0ASet-Cookie%3A%20x%3D1');
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('a SIGNING_SECRET that does not decode is a 500 misconfigured naming it, before anything is accepted', async () => {
    for (const secret of ['whsec_a', 'whsec_YQ==', 'whsec_!!!!']) {
      const res = await callWith({ SIGNING_SECRET: secret }, `/?url=${encodeURIComponent(hook('ok').url)}`, { method: 'POST', body: 'x' });
      expect(res.status, secret).toBe(500);
      const error = await errorOf(res);
      expect(error.code).toBe('misconfigured');
      expect(error.message).toContain('SIGNING_SECRET must be whsec_ + base64 of 24 to 64 bytes');
    }
  });
});
