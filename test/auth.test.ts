import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { callWith, consume, hook } from './helpers';

const ON = { AUTHENTICATE: 'true' };
const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

async function errorOf(res: Response) {
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

async function newApp(name: string) {
  const res = await callWith({}, '/admin/apps', { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { app: { id: string; name: string }; key_id: string; api_key: string };
}

const as = (key: string) => ({ authorization: `Bearer ${key}` });
const enqueueAs = async (key: string, url = hook('ok').url) => {
  const res = await callWith(ON, `/?url=${encodeURIComponent(url)}`, { method: 'POST', body: 'x', headers: as(key) });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string };
};

describe('API keys', () => {
  it('are required on every client endpoint but the banner and the OpenAPI document', async () => {
    for (const [method, path] of [['POST', '/?url=http://a.test'], ['GET', '/tasks/x'], ['GET', '/tasks/x/attempts'], ['DELETE', '/tasks/x'], ['DELETE', '/?all=true'], ['GET', '/stats']]) {
      const res = await callWith(ON, path, { method });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect((await errorOf(res)).code).toBe('unauthorized');
    }
    expect((await callWith(ON, '/')).status).toBe(200);
    expect((await callWith(ON, '/openapi.json')).status).toBe(200);
  });

  it('are accepted as Bearer, api_key (the seed) and Torque-Api-Key headers', async () => {
    const { api_key } = await newApp('headers');
    const forms: Record<string, string>[] = [{ authorization: `Bearer ${api_key}` }, { api_key }, { 'torque-api-key': api_key }];
    for (const headers of forms) {
      expect((await callWith(ON, '/stats', { headers })).status).toBe(200);
    }
  });

  it('refuse malformed, unknown and wrong-secret keys with 401, never 500', async () => {
    const { api_key, key_id } = await newApp('bad-keys');
    const cases = {
      malformed: 'hello',
      unknown: `tq_${'a'.repeat(12)}_${'b'.repeat(32)}`,
      'wrong secret': `tq_${key_id}_${'c'.repeat(32)}`,
      'empty bearer': '',
      'very long': 'x'.repeat(10_000),
    };
    for (const [label, key] of Object.entries(cases)) {
      const res = await callWith(ON, '/stats', { headers: { authorization: `Bearer ${key}` } });
      expect(res.status, label).toBe(401);
    }
    expect((await callWith(ON, '/stats', { headers: as(api_key) })).status).toBe(200);
  });

  it('stop working when revoked; a second key keeps working (rotation)', async () => {
    const { app, api_key, key_id } = await newApp('rotate');
    const added = await callWith({}, `/admin/apps/${app.id}/keys`, { method: 'POST', headers: ADMIN });
    expect(added.status).toBe(201);
    const second = (await added.json()) as { api_key: string };
    expect((await callWith({}, `/admin/keys/${key_id}`, { method: 'DELETE', headers: ADMIN })).status).toBe(204);
    const res = await callWith(ON, '/stats', { headers: as(api_key) });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toContain('revoked');
    expect((await callWith(ON, '/stats', { headers: as(second.api_key) })).status).toBe(200);
    expect((await callWith({}, `/admin/keys/${key_id}`, { method: 'DELETE', headers: ADMIN })).status).toBe(404);
  });

  it('are random, shown once, and stored only as a hash', async () => {
    const a = await newApp('hash-a');
    const b = await newApp('hash-b');
    expect(a.api_key).not.toBe(b.api_key);
    const secret = a.api_key.split('_').slice(2).join('_');
    expect(secret.length).toBeGreaterThanOrEqual(32); // 24 random bytes, base64url
    const stored = await env.DB.prepare('SELECT hash FROM api_keys WHERE id = ?').bind(a.key_id).first<{ hash: string }>();
    expect(stored!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.hash).not.toContain(secret);
    const listed = await callWith({}, '/admin/apps', { headers: ADMIN });
    expect(JSON.stringify(await listed.json())).not.toContain(secret);
  });
});

describe('tenancy', () => {
  it("no app can read, count or delete another app's tasks", async () => {
    const a = await newApp('tenant-a');
    const b = await newApp('tenant-b');
    const task = await enqueueAs(a.api_key);
    const asB = { headers: as(b.api_key) };
    expect((await callWith(ON, `/tasks/${task.id}`, asB)).status).toBe(404);
    expect((await callWith(ON, `/tasks/${task.id}/attempts`, asB)).status).toBe(404);
    expect((await callWith(ON, `/tasks/${task.id}`, { method: 'DELETE', ...asB })).status).toBe(404);
    const wiped = await callWith(ON, '/?all=true', { method: 'DELETE', ...asB });
    expect(await wiped.json()).toEqual({ deleted: 0, next_cursor: null });
    const statsB = (await (await callWith(ON, '/stats', asB)).json()) as { tasks: Record<string, number> };
    expect(statsB.tasks.pending).toBe(0);
    const statsA = (await (await callWith(ON, '/stats', { headers: as(a.api_key) })).json()) as { tasks: Record<string, number> };
    expect(statsA.tasks.pending).toBe(1);
    expect((await callWith(ON, `/tasks/${task.id}`, { headers: as(a.api_key) })).status).toBe(200);
  });
});

describe('admin API', () => {
  it('is a 404 when ADMIN_TOKEN is unset, and 401 with a wrong token', async () => {
    const off = await callWith({ ADMIN_TOKEN: undefined }, '/admin/apps', { headers: ADMIN });
    expect(off.status).toBe(404);
    const wrong = await callWith({}, '/admin/apps', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
  });

  it('with auth on and no ADMIN_TOKEN, every 401 says how to create the first key', async () => {
    const res = await callWith({ AUTHENTICATE: 'true', ADMIN_TOKEN: undefined }, '/stats');
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toMatch(/no ADMIN_TOKEN secret is set.*wrangler secret put ADMIN_TOKEN/);
    const withToken = await callWith({ AUTHENTICATE: 'true' }, '/stats');
    expect((await errorOf(withToken)).message).not.toMatch(/ADMIN_TOKEN/);
  });

  it('validates its input', async () => {
    const res = await callWith({}, '/admin/apps', { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: '{"name":""}' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain('name');
    const missing = await callWith({}, '/admin/apps/app_nope/keys', { method: 'POST', headers: ADMIN });
    expect(missing.status).toBe(404);
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After once an app exceeds its enqueue limit, per app', async () => {
    const a = await newApp('limited-a');
    const b = await newApp('limited-b');
    const vars = { ...ON, ENQUEUE_LIMITER: (env as unknown as { TEST_LIMITER: RateLimit }).TEST_LIMITER };
    const post = (key: string) => callWith(vars, `/?url=${encodeURIComponent(hook('ok').url)}`, { method: 'POST', body: 'x', headers: as(key) });
    // The limiter counts in fixed 10 s windows (3 each): a busy machine may cross into the next
    // window mid-test, so 8 requests, of which at most 6 (two windows' worth) may pass.
    const answers: Response[] = [];
    for (let i = 0; i < 8; i++) answers.push(await post(a.api_key));
    const statuses = answers.map((r) => r.status);
    expect(statuses.slice(0, 3)).toEqual([201, 201, 201]);
    expect(statuses.filter((s) => s === 201).length, String(statuses)).toBeLessThanOrEqual(6);
    const limited = answers.find((r) => r.status === 429)!;
    expect(limited, String(statuses)).toBeDefined();
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await errorOf(limited)).code).toBe('rate_limited');
    expect((await post(b.api_key)).status).toBe(201);
  });
});

describe('ENABLE_HSTS', () => {
  const HSTS = { ENABLE_HSTS: 'true' };
  it('adds Strict-Transport-Security to https responses', async () => {
    const res = await callWith(HSTS, '/', {}, 'https://torque.test');
    expect(res.status).toBe(200);
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    const missing = await callWith(HSTS, '/tasks/nope', {}, 'https://torque.test');
    expect(missing.headers.get('strict-transport-security')).toMatch(/max-age/);
  });
  it('redirects plain-http GET and HEAD to https and refuses other methods with 403', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await callWith(HSTS, '/stats?x=1', { method });
      expect(res.status).toBe(301);
      expect(res.headers.get('location')).toBe('https://torque.test/stats?x=1');
    }
    const post = await callWith(HSTS, '/?url=http://a.test', { method: 'POST', body: 'x' });
    expect(post.status).toBe(403);
    expect((await errorOf(post)).code).toBe('https_required');
  });
  it('is off by default', async () => {
    const res = await callWith({}, '/stats');
    expect(res.status).toBe(200);
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });
});

describe('target safety', () => {
  it('refuses blocked or not-allowed hosts at enqueue with a 400 naming url', async () => {
    for (const [vars, url] of [
      [{ BLOCKED_HOSTS: 'evil.test' }, 'http://evil.test/x'],
      [{ BLOCKED_HOSTS: '*.internal' }, 'https://db.internal/x'],
      [{ ALLOWED_HOSTS: 'hooks.example.com' }, 'https://other.example.com/x'],
    ] as const) {
      const res = await callWith(vars, `/?url=${encodeURIComponent(url)}`, { method: 'POST', body: 'x' });
      expect(res.status, url).toBe(400);
      expect((await errorOf(res)).message).toMatch(/^url: host/);
    }
    const ok = await callWith({ ALLOWED_HOSTS: '*.example.com' }, `/?url=${encodeURIComponent('https://a.example.com/x')}`, { method: 'POST', body: 'x' });
    expect(ok.status).toBe(201);
  });

  it('checks again before the call and after every redirect: a blocked target fails the task uncalled', async () => {
    const target = hook('ok');
    const viaLocalhost = target.url.replace('127.0.0.1', 'localhost');
    const bouncer = hook('redirect', `code=302&to=${encodeURIComponent(viaLocalhost)}`);
    const res = await callWith({}, `/?url=${encodeURIComponent(bouncer.url)}`, { method: 'POST', body: 'x' });
    const task = (await res.json()) as { id: string };
    await consume([task.id], { BLOCKED_HOSTS: 'localhost' });
    const after = (await (await callWith({}, `/tasks/${task.id}`)).json()) as Record<string, any>;
    expect(after.status).toBe('failed');
    expect(after.last_error).toMatch(/^blocked: host localhost is blocked/);
    const log = await (await fetch(`${target.url.split('/h/')[0]}/__log/${target.key}`)).json();
    expect(log).toEqual([]);
  });
});
