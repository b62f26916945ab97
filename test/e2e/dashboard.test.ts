// The dashboard in a real browser: Debian's chromium driven by playwright-core, against Torque
// under `npm run dev` and a real hook server. Saves screenshots to test-output/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startHookServer } from '../hook-server.ts';
import { DevServer, waitFor } from './dev-server.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const server = new DevServer({ MIN_RETRY_DELAY: '1', BREAKER_THRESHOLD: '2' });
let hooks: Awaited<ReturnType<typeof startHookServer>>;
let browser: Browser;

async function enqueue(url: string, params: Record<string, string> = {}) {
  const res = await fetch(`${server.base}/?${new URLSearchParams({ url, ...params })}`, { method: 'POST', body: 'x=1' });
  assert.equal(res.status, 201);
  return (await res.json()) as { id: string };
}
const status = async (id: string) => ((await (await fetch(`${server.base}/tasks/${id}`)).json()) as { status: string }).status;

describe('dashboard in headless chromium', { timeout: 240_000, skip: !existsSync(CHROMIUM) && `no chromium at ${CHROMIUM}` }, () => {
  before(async () => {
    hooks = await startHookServer();
    await server.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    mkdirSync('test-output', { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await server.stop();
    hooks.server.closeAllConnections();
    hooks.server.close();
  });

  it('shows counts and tasks, filters, opens a task, retries it and sees it change', async () => {
    const ok: string[] = [];
    for (let i = 0; i < 5; i++) ok.push((await enqueue(`${hooks.url}/h/dash-ok/ok`)).id);
    // Fails once (max_retries 0), then answers 200 when retried from the dashboard.
    const flaky = (await enqueue(`${hooks.url}/h/dash-flaky/seq?codes=500,200`, { max_retries: '0' })).id;
    await waitFor('tasks to settle', async () => ((await status(flaky)) === 'failed' && (await status(ok[4])) === 'completed' ? true : undefined));

    const flow = await fetch(`${server.base}/flows/dash-flow`, { method: 'PUT', body: JSON.stringify({ rate: 5, parallelism: 2 }), headers: { 'content-type': 'application/json' } });
    assert.equal(flow.status, 200);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`${server.base}/dashboard`);
    assert.equal(await page.locator('tr[data-flow="dash-flow"] td').nth(1).textContent(), '5 per 1 s');
    assert.equal(await page.locator('.count.completed strong').textContent(), '5');
    assert.equal(await page.locator('.count.failed strong').textContent(), '1');
    assert.equal(await page.locator('tr[data-task]').count(), 6);
    assert.ok((await page.locator('.chart rect').count()) > 0, 'the throughput chart has bars');
    assert.ok((await page.locator('.chart .y-axis text').count()) >= 2, 'the throughput chart has a y-axis');
    // The stylesheet holds: the page is in the system font stack, not the browser's default serif.
    assert.match(await page.evaluate<string>('getComputedStyle(document.body).fontFamily'), /system-ui/);
    assert.equal(await page.locator('nav.tabs a[aria-current="page"]').textContent(), 'Tasks');
    await page.screenshot({ path: 'test-output/dashboard.png', fullPage: true });

    // The schedules tab.
    const sched = await fetch(`${server.base}/schedules`, { method: 'POST', body: JSON.stringify({ cron: '0 7 * * *', timezone: 'Europe/Berlin', url: `${hooks.url}/h/dash-sched/ok`, name: 'morning' }), headers: { 'content-type': 'application/json' } });
    assert.equal(sched.status, 201);
    await page.click('nav.tabs >> text=Schedules');
    await page.waitForURL(/\/dashboard\/schedules$/);
    assert.equal(await page.locator('tr[data-schedule] td').first().textContent(), 'morning');
    assert.equal(await page.locator('nav.tabs a[aria-current="page"]').textContent(), 'Schedules');
    await page.click('tr[data-schedule] >> text=Pause');
    await page.waitForURL(/\/dashboard\/schedules$/);
    assert.equal(await page.locator('tr[data-schedule] td').nth(3).textContent(), 'paused');
    await page.click('tr[data-schedule] >> text=Resume');
    await page.waitForURL(/\/dashboard\/schedules$/);
    assert.notEqual(await page.locator('tr[data-schedule] td').nth(3).textContent(), 'paused');
    await page.screenshot({ path: 'test-output/dashboard-schedules.png', fullPage: true });
    await page.goto(`${server.base}/dashboard`);

    await page.click('nav.filters >> text=failed');
    await page.waitForURL(/status=failed/);
    assert.equal(await page.locator('tr[data-task]').count(), 1);

    await page.click(`a[href="/dashboard/tasks/${flaky}"]`);
    await page.waitForURL(new RegExp(`/dashboard/tasks/${flaky}$`));
    assert.equal(await page.locator('#status').textContent(), 'failed');
    assert.equal(await page.locator('table.attempts tbody tr').count(), 1);
    assert.equal(await page.locator('#payload-body').textContent(), 'x=1'); // what the hook is sent
    await page.screenshot({ path: 'test-output/dashboard-task.png', fullPage: true });

    await page.click('text=Retry now');
    await page.waitForURL(new RegExp(`/dashboard/tasks/${flaky}$`));
    assert.notEqual(await page.locator('#status').textContent(), 'failed');
    await waitFor('the retried task to complete', async () => {
      await page.reload();
      return (await page.locator('#status').textContent()) === 'completed' ? true : undefined;
    });
    assert.equal(await page.locator('table.attempts tbody tr').count(), 2);

    await page.click('text=Delete');
    await page.waitForURL(/\/dashboard$/);
    assert.equal(await page.locator(`tr[data-task="${flaky}"]`).count(), 0);
    assert.equal((await fetch(`${server.base}/tasks/${flaky}`)).status, 404);
  });

  it('pauses a flow, resets a circuit, replays failed tasks, deletes a schedule, lists topics', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const put = (path: string, body: unknown) => fetch(`${server.base}${path}`, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    assert.equal((await put('/flows/payments', { rate: 10, period: 1, parallelism: 4 })).status, 200);
    // A destination that answers 503 opens its circuit after BREAKER_THRESHOLD (2) failures.
    await enqueue(`${hooks.url}/h/dash-down/status?code=503`, { flow_key: 'payments', max_retries: '5' });
    await waitFor('the circuit to open', async () => {
      const { destinations } = (await (await fetch(`${server.base}/destinations`)).json()) as { destinations: { destination: string; state: string }[] };
      return destinations.some((d) => d.destination === 'flow:payments' && d.state === 'open') ? true : undefined;
    });
    const dead = await Promise.all([1, 2, 3].map(() => enqueue(`${hooks.url}/h/dash-dead/status?code=500`, { max_retries: '0' })));
    await waitFor('the failing tasks to fail', async () => ((await Promise.all(dead.map((d) => status(d.id)))).every((s) => s === 'failed') ? true : undefined));
    assert.equal((await put('/topics/order-created', { endpoints: [`${hooks.url}/h/billing/ok`, `${hooks.url}/h/mail/ok`] })).status, 200);

    await page.goto(`${server.base}/dashboard`);
    await page.screenshot({ path: 'test-output/dashboard-full.png', fullPage: true });
    await page.click('tr[data-flow="payments"] >> text=Pause');
    await page.waitForURL(/\/dashboard$/);
    assert.equal(await page.locator('tr[data-flow="payments"] td').nth(3).textContent(), 'paused');
    await page.click('tr[data-flow="payments"] >> text=Resume');
    await page.waitForURL(/\/dashboard$/);
    assert.equal(await page.locator('tr[data-flow="payments"] td').nth(3).textContent(), 'running');

    await page.click('tr[data-destination="flow:payments"] >> text=Reset');
    await page.waitForURL(/\/dashboard$/);
    assert.notEqual(await page.locator('tr[data-destination="flow:payments"]').getAttribute('data-state').catch(() => null), 'open');

    await page.click('text=Replay failed tasks');
    await page.waitForURL(/replayed=/);
    assert.match((await page.locator('.notice').textContent()) ?? '', /Replayed [1-9]\d* failed tasks?/);
    assert.ok((await Promise.all(dead.map((d) => status(d.id)))).some((s) => s !== 'failed'), 'the failed tasks were replayed');

    await page.click('nav.tabs >> text=Topics');
    await page.waitForURL(/\/dashboard\/topics$/);
    assert.equal(await page.locator('nav.tabs a[aria-current="page"]').textContent(), 'Topics');
    assert.equal(await page.locator('tr[data-topic="order-created"] li').count(), 2);
    await page.screenshot({ path: 'test-output/dashboard-topics.png', fullPage: true });

    await page.click('nav.tabs >> text=Schedules');
    const rows = await page.locator('tr[data-schedule]').count();
    await page.click('tr[data-schedule] >> text=Delete…');
    await page.click('tr[data-schedule] >> text=Delete schedule');
    await page.waitForURL(/\/dashboard\/schedules$/);
    assert.equal(await page.locator('tr[data-schedule]').count(), rows - 1);
  });
});
