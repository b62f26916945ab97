import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { callWith, hook } from './helpers';

const ON = { AUTHENTICATE: 'true' };
const ORIGIN = 'http://torque.test';

async function newKey(name: string) {
  const res = await callWith({}, '/admin/apps', {
    method: 'POST',
    headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  return ((await res.json()) as { api_key: string }).api_key;
}

const login = (key: string, origin = ORIGIN) =>
  callWith(ON, '/dashboard/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
    body: new URLSearchParams({ api_key: key }).toString(),
    redirect: 'manual',
  });

describe('dashboard sign-in (AUTHENTICATE on)', () => {
  it('asks for an API key, and refuses a bad one', async () => {
    const page = await callWith(ON, '/dashboard');
    expect(page.status).toBe(401);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('name="api_key"');
    const bad = await login('tq_nope');
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('unknown or revoked');
  });

  it("signs in with a cookie that shows only that app's tasks", async () => {
    const mine = await newKey('dash-mine');
    const theirs = await newKey('dash-theirs');
    const post = (key: string) =>
      callWith(ON, `/?url=${encodeURIComponent(hook('ok').url)}`, { method: 'POST', body: 'x', headers: { authorization: `Bearer ${key}` } });
    const myTask = ((await (await post(mine)).json()) as { id: string }).id;
    const theirTask = ((await (await post(theirs)).json()) as { id: string }).id;

    const res = await login(mine);
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/torque_key=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\/dashboard/i);
    const headers = { cookie: cookie.split(';')[0] };
    const html = await (await callWith(ON, '/dashboard', { headers })).text();
    expect(html).toContain(myTask);
    expect(html).not.toContain(theirTask);
    expect((await callWith(ON, `/dashboard/tasks/${theirTask}`, { headers })).status).toBe(404);
    expect((await callWith(ON, `/dashboard/tasks/${myTask}`, { headers })).status).toBe(200);
  });

  it('refuses cross-site form posts (CSRF)', async () => {
    const key = await newKey('dash-csrf');
    const res = await login(key, 'https://evil.example');
    expect(res.status).toBe(403);
  });
});

describe('dashboard (AUTHENTICATE off)', () => {
  it('opens without a key and ignores bad query values', async () => {
    const res = await callWith({}, '/dashboard?status=nope&cursor=../../x');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<table class="tasks">');
  });
});
