// The dashboard's pages and buttons (server-rendered; the browser test in test/e2e/dashboard.test.ts
// clicks them): every button is a form POST, Origin-checked and signed in like the task actions.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { watchedD1 } from './d1-wrap';
import { call, callWith, consume, enqueue, getTask, hook, json } from './helpers';

const ORIGIN = 'http://torque.test';
const post = (path: string, form: Record<string, string> = {}, origin = ORIGIN, vars = {}) =>
  callWith(vars, path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
const page = async (path: string) => (await callWith({}, path)).text();

describe('dashboard pages', () => {
  it("shows a schedule's task template (headers and body), escaped", async () => {
    const res = await call('/schedules', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cron: '0 9 * * *', url: hook('ok').url, body: '<i>report</i>', headers: { 'X-Kind': '<u>daily</u>', 'Content-Type': 'text/plain' } }),
    });
    expect(res.status).toBe(201);
    const html = await page('/dashboard/schedules');
    expect(html).toContain('&lt;i&gt;report&lt;/i&gt;');
    expect(html).toContain('&lt;u&gt;daily&lt;/u&gt;');
    expect(html).not.toContain('<i>report');
  });

  it('lists schedules without reading whole bodies: a big template is shown by its first bytes and its size', async () => {
    const big = `€${'z'.repeat(600_000)}`;
    const res = await call('/schedules', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cron: '0 9 * * *', url: hook('ok').url, body: big }) });
    expect(res.status).toBe(201);
    const html = await page('/dashboard/schedules');
    expect(html).toContain(`€${'z'.repeat(4000)}`);
    expect(html).toContain(`(${Buffer.byteLength(big)} bytes in all)`);
    expect(html).not.toContain('z'.repeat(5000));
    // Cut inside a character: still text, not base64.
    const odd = `${'a'.repeat(4095)}€€`;
    await call('/schedules', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cron: '0 9 * * *', url: hook('ok').url, body: odd }) });
    expect(await page('/dashboard/schedules')).toContain(`${'a'.repeat(4095)}… (${Buffer.byteLength(odd)} bytes in all)`);
    // The API's listing reads no body at all.
    let read = '';
    const DB = watchedD1(env.DB, { prepare: (sql) => void (/from "schedules"/i.test(sql) && (read = sql)) });
    expect((await callWith({ DB }, '/schedules')).status).toBe(200);
    expect(read).toMatch(/"headers", NULL, "content_type"/);
    expect(read).not.toMatch(/"body",/);
  });

  it("shows a task's payload and headers, escaped, and a long body cut short", async () => {
    const body = `<script>alert(1)</script>${'y'.repeat(5000)}`;
    const { task } = await enqueue(hook('ok').url, body, {}, { 'content-type': 'text/html', 'torque-passthrough-x-tenant': '<b>acme</b>' });
    const html = await page(`/dashboard/tasks/${task.id}`);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('&lt;b&gt;acme&lt;/b&gt;');
    expect(html).toContain('text/html');
    expect(html).toMatch(/… \(\d+ more characters\)/);
    expect(html).not.toContain('y'.repeat(4500));
  });

  it('inlines the stylesheet unescaped, so its font rule holds', async () => {
    const html = await page('/dashboard');
    expect(html).toContain('font:14px/1.45 system-ui, -apple-system, "Segoe UI"');
    expect(html).not.toMatch(/<style>[^<]*&quot;/);
  });

  it('marks the current tab', async () => {
    expect(await page('/dashboard')).toMatch(/<a href="\/dashboard" class="on" aria-current="page">Tasks<\/a>/);
    const schedules = await page('/dashboard/schedules');
    expect(schedules).toMatch(/<a href="\/dashboard\/schedules" class="on" aria-current="page">Schedules<\/a>/);
    expect(schedules).not.toMatch(/aria-current="page">Tasks/);
  });

  it('lists topics and their endpoints on the Topics tab, escaped', async () => {
    const put = await call('/topics/dash-topic', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ endpoints: ['https://a.example/x?<b>=1'] }) });
    expect(put.status).toBe(200);
    const html = await page('/dashboard/topics');
    expect(html).toContain('data-topic="dash-topic"');
    expect(html).toContain('https://a.example/x?&lt;b&gt;=1');
  });

  it('draws a y-axis with round ticks on the throughput chart', async () => {
    await enqueue(hook('ok').url);
    const html = await page('/dashboard');
    expect(html).toMatch(/<g class="y-axis">.*?>0<\/text>.*?>1<\/text>/s);
  });
});

describe('dashboard buttons', () => {
  it('pauses and resumes a flow', async () => {
    await call('/flows/dash-flow', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rate: 5 }) });
    expect(await page('/dashboard')).toContain('action="/dashboard/flows/pause"');
    const res = await post('/dashboard/flows/pause', { key: 'dash-flow' });
    expect(res.status).toBe(303);
    expect((await json<{ paused: boolean }>(call('/flows/dash-flow'))).paused).toBe(true);
    expect(await page('/dashboard')).toContain('action="/dashboard/flows/resume"');
    await post('/dashboard/flows/resume', { key: 'dash-flow' });
    expect((await json<{ paused: boolean }>(call('/flows/dash-flow'))).paused).toBe(false);
    expect((await post('/dashboard/flows/pause', { key: 'bad key!' })).status).toBe(400);
  });

  it('pauses, resumes and deletes a schedule', async () => {
    const created = await call('/schedules', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cron: '0 7 * * *', url: hook('ok').url }) });
    const { id } = (await created.json()) as { id: string };
    expect((await post(`/dashboard/schedules/${id}/pause`)).headers.get('location')).toBe('/dashboard/schedules');
    expect((await json<{ paused: boolean }>(call(`/schedules/${id}`))).paused).toBe(true);
    await post(`/dashboard/schedules/${id}/resume`);
    const resumed = await json<{ paused: boolean; next_run_at: string | null }>(call(`/schedules/${id}`));
    expect(resumed.paused).toBe(false);
    expect(resumed.next_run_at).not.toBeNull();
    expect((await post(`/dashboard/schedules/${id}/delete`)).status).toBe(303);
    expect((await call(`/schedules/${id}`)).status).toBe(404);
    expect((await post(`/dashboard/schedules/${id}/delete`)).status).toBe(404);
  });

  it("resets an open circuit", async () => {
    const { task } = await enqueue(hook('status', 'code=503').url, 'x=1', { flow_key: 'dash-circuit' });
    await consume([task.id], { BREAKER_THRESHOLD: '1' });
    const before = await json<{ destinations: { destination: string; state: string }[] }>(call('/destinations'));
    expect(before.destinations.find((d) => d.destination === 'flow:dash-circuit')?.state).toBe('open');
    expect(await page('/dashboard')).toContain('value="flow:dash-circuit"');
    expect((await post('/dashboard/destinations/reset', { destination: 'flow:dash-circuit' })).status).toBe(303);
    const after = await json<{ destinations: { destination: string; state: string }[] }>(call('/destinations'));
    expect(after.destinations.find((d) => d.destination === 'flow:dash-circuit')?.state ?? 'closed').toBe('closed');
  });

  it('replays failed tasks in bulk and says how many', async () => {
    const { task } = await enqueue(hook('status', 'code=500').url, 'x=1', { max_retries: '0' });
    await consume([task.id]);
    expect((await getTask(task.id)).status).toBe('failed');
    expect(await page('/dashboard')).toContain('action="/dashboard/replay"');
    const res = await post('/dashboard/replay', { status: 'failed' });
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    expect(location).toMatch(/^\/dashboard\?replayed=[1-9]\d*/);
    expect((await getTask(task.id)).status).not.toBe('failed');
    expect(await page(location)).toMatch(/Replayed \d+ failed task/);
  });

  it('refuses cross-site posts and, with auth on, posts without the cookie', async () => {
    await call('/flows/dash-csrf', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rate: 5 }) });
    expect((await post('/dashboard/flows/pause', { key: 'dash-csrf' }, 'https://evil.example')).status).toBe(403);
    expect((await post('/dashboard/flows/pause', { key: 'dash-csrf' }, ORIGIN, { AUTHENTICATE: 'true' })).status).toBe(401);
    expect((await json<{ paused: boolean }>(call('/flows/dash-csrf'))).paused).toBe(false);
  });
});
