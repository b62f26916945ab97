import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { sweep } from '../src/sweep/sweep';
import { watchedD1 } from './d1-wrap';
import { guardedD1, injected } from './faults';
import { call, callWith, consume, enqueue, getTask, hook, json, playQueue, received, recordingQueue } from './helpers';

// Circuit breakers are one tenant's and one destination's business: keyed by origin, released at
// once when they recover, and bounded in what they store, read and send.

// Nothing listens on port 1: a call there is refused at once (no answer: the destination's fault).
const DEAD = 'http://127.0.0.1:1/h/dead/ok';
const circuit = (app: string, destination: string) =>
  env.DB.prepare('SELECT state, held FROM circuits WHERE app_id = ? AND destination = ?').bind(app, destination).first<{ state: string; held: string | null }>();
const dueAt = async (id: string) => (await env.DB.prepare('SELECT due_at FROM tasks WHERE id = ?').bind(id).first<{ due_at: number }>())!.due_at;

describe('circuits by origin', () => {
  it('a dead hook on one port opens its own circuit only: a healthy hook on another port of the same host is called', async () => {
    const vars = { BREAKER_THRESHOLD: '2', BREAKER_INTERVAL: '60' };
    const dead: string[] = [];
    for (let i = 0; i < 3; i++) dead.push((await enqueue(DEAD, 'x', { max_retries: '5' })).task.id);
    await consume(dead, vars);
    const ok = hook('ok');
    const { task } = await enqueue(ok.url);
    await consume([task.id], vars);
    expect(await received(ok.key)).toHaveLength(1);
    expect((await getTask(task.id)).status).toBe('completed');
    // The dead one's circuit is open, named by its origin.
    const { destinations } = await json<{ destinations: { destination: string; state: string }[] }>(call('/destinations'));
    expect(destinations).toContainEqual(expect.objectContaining({ destination: 'http://127.0.0.1:1', state: 'open' }));
  });

  it('a task its circuit held back is put back once, even when the admission of the rest of its group then fails', async () => {
    const vars = { BREAKER_THRESHOLD: '2', BREAKER_INTERVAL: '600' };
    const opening: string[] = [];
    for (let i = 0; i < 2; i++) opening.push((await enqueue(DEAD, 'x', { max_retries: '5' })).task.id);
    await consume(opening, vars);
    const heldByCircuit = (await enqueue(DEAD, 'x', { max_retries: '5' })).task.id;
    const flowed = (await enqueue(hook('ok').url, 'x', { flow_key: 'limits-unreadable' })).task.id;
    // The flow's limits cannot be read: the group's admission fails after its circuit check.
    const failing = guardedD1(env.DB, (sql) => /\bflows AS f\b/.test(sql), () => Promise.reject(injected()));
    const putBack: string[] = [];
    const DB = watchedD1(failing, { bind: (sql, values) => { if (/^\s*UPDATE tasks SET status = CASE WHEN tasks.attempts - 1/.test(sql)) putBack.push(String(values[0])); } });
    await consume([heldByCircuit, flowed], { ...vars, DB });
    expect(putBack.filter((rows) => rows.includes(heldByCircuit))).toHaveLength(1);
    expect(putBack.filter((rows) => rows.includes(flowed))).toHaveLength(1);
    for (const id of [heldByCircuit, flowed]) expect(await getTask(id)).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('an open circuit whose state could not be read is not taken as closed by a later claim wave of the same invocation', async () => {
    const vars = { BREAKER_THRESHOLD: '2', BREAKER_INTERVAL: '600' };
    const opening: string[] = [];
    for (let i = 0; i < 2; i++) opening.push((await enqueue(DEAD, 'x', { max_retries: '5' })).task.id);
    await consume(opening, vars);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await enqueue(DEAD, 'x', { max_retries: '5' })).task.id);
    // The first two circuit reads fail (the batch's prefetch and the first wave's read); the
    // invocation claims in waves (5 free slots, then the rest), so a later wave reads again.
    let reads = 0;
    const DB = guardedD1(env.DB, (sql) => /FROM circuits WHERE/.test(sql), async (run) => {
      if (reads++ < 2) throw injected();
      return run();
    });
    await consume(ids, { ...vars, DB });
    for (const id of ids) expect(await getTask(id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(reads).toBeGreaterThanOrEqual(3);
  });

  it('a reset names the origin as host:port (either scheme) or as an encoded URL, and lets the held tasks go at once', async () => {
    const vars = { BREAKER_THRESHOLD: '2', BREAKER_INTERVAL: '600' };
    const first: string[] = [];
    for (let i = 0; i < 2; i++) first.push((await enqueue(DEAD, 'x', { max_retries: '5' })).task.id);
    await consume(first, vars);
    const { task } = await enqueue(DEAD, 'x', { max_retries: '5' });
    await consume([task.id], vars);
    // Held back by the open circuit, until its next probe (10 minutes away).
    expect(await getTask(task.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await dueAt(task.id)).toBeGreaterThan(Date.now() + 60_000);

    expect((await call('/destinations/127.0.0.1:2/reset', { method: 'POST' })).status).toBe(404); // another port
    expect((await call(`/destinations/${encodeURIComponent('https://127.0.0.1:1')}/reset`, { method: 'POST' })).status).toBe(404); // another scheme
    const q = recordingQueue();
    expect((await callWith(q.vars, '/destinations/127.0.0.1:1/reset', { method: 'POST' })).status).toBe(204);
    expect(await circuit('default', 'http://127.0.0.1:1')).toBeNull();
    expect(await dueAt(task.id)).toBeLessThanOrEqual(Date.now());
    expect(q.ids()).toContain(task.id);

    // The scheme is named by the URL form (its slashes encoded, as every path segment's).
    await env.DB.prepare(`INSERT OR REPLACE INTO circuits (app_id, destination, state, failures, since, probe_at, interval_ms) VALUES ('default', 'http://127.0.0.1:1', 'open', 9, ?1, ?1, 60000)`).bind(Date.now()).run();
    expect((await call(`/destinations/${encodeURIComponent('http://127.0.0.1:1')}/reset`, { method: 'POST' })).status).toBe(204);
    // A bare host names every origin on it, whatever the scheme and port.
    for (const d of ['http://127.0.0.1:7', 'https://127.0.0.1:8', 'https://127.0.0.1', 'http://127.0.0.2:7']) {
      await env.DB.prepare(`INSERT OR REPLACE INTO circuits (app_id, destination, state, failures, since, probe_at, interval_ms) VALUES ('default', ?2, 'open', 9, ?1, ?1, 60000)`).bind(Date.now(), d).run();
    }
    expect((await call('/destinations/127.0.0.1/reset', { method: 'POST' })).status).toBe(204);
    const { results } = await env.DB.prepare(`SELECT destination FROM circuits WHERE destination LIKE '%127.0.0.%'`).all<{ destination: string }>();
    expect(results.map((r) => r.destination)).toEqual(['http://127.0.0.2:7']);
  });
});

describe('recovery', () => {
  it('after a successful probe every task the circuit held is attempted at once, not at the next probe', { timeout: 60_000 }, async () => {
    // Two failures open the circuit, the third call (the probe) succeeds. The interval is a minute,
    // so a task that waited for the next probe would not be done within the test's deadline.
    const vars = { BREAKER_THRESHOLD: '2', BREAKER_INTERVAL: '60' };
    const h = hook('seq', 'codes=500,500,200');
    const opening: string[] = [];
    for (let i = 0; i < 2; i++) opening.push((await enqueue(h.url, 'x', { flow_key: 'recovers', max_retries: '5' })).task.id);
    await consume(opening, vars);
    expect(await circuit('default', 'flow:recovers')).toMatchObject({ state: 'open' });
    const waiting: string[] = [];
    for (let i = 0; i < 6; i++) waiting.push((await enqueue(h.url, 'x', { flow_key: 'recovers' })).task.id);
    // The probe is due now (as if the interval had passed): one task probes, the rest of its wave waits.
    await env.DB.prepare(`UPDATE circuits SET probe_at = ?1 WHERE destination = 'flow:recovers'`).bind(Date.now() - 1).run();
    const done = async () => (await Promise.all(waiting.map(getTask))).every((t) => t.status === 'completed');
    await playQueue(waiting, done, 25_000, vars);
    expect(await done()).toBe(true);
    for (const id of waiting) expect((await getTask(id)).attempts).toBe(1);
    expect(await circuit('default', 'flow:recovers')).toBeNull();
  });
});

describe('bounded circuit state', () => {
  const fill = (app: string, n: number, state: string, probeAt: number, prefix = 'flow:filler-') =>
    env.DB.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
      INSERT OR REPLACE INTO circuits (app_id, destination, state, failures, since, probe_at, interval_ms)
      SELECT ?1, ?5 || printf('%05d', i), ?3, 1, ?4, ?4, 30000 FROM n`).bind(app, n, state, probeAt, prefix).run();

  it("a consumer invocation reads only its batch's circuits, not another app's thousands", async () => {
    await fill('someone-else', 3000, 'open', Date.now() + 600_000);
    const reads: { sql: string; values: unknown[] }[] = [];
    // Every read of circuits, with the values it was sent with (if any).
    const isRead = (sql: string) => /FROM circuits/.test(sql) && /^\s*SELECT/i.test(sql);
    const DB = watchedD1(env.DB, {
      prepare: (sql) => void (isRead(sql) && reads.push({ sql, values: [] })),
      bind: (sql, values) => void (isRead(sql) && (reads.findLast((r) => r.sql === sql)!.values = values)),
    });
    const ok = hook('ok');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await enqueue(ok.url, 'x', { flow_key: 'reads' })).task.id);
    await consume(ids, { BREAKER_THRESHOLD: '3', DB });
    expect(await received(ok.key)).toHaveLength(5);
    expect(reads.length).toBeGreaterThan(0);
    let rowsRead = 0;
    for (const r of reads) rowsRead += (await env.DB.prepare(r.sql).bind(...r.values).all()).meta.rows_read;
    expect(rowsRead).toBeLessThan(50);
  });

  it('GET /destinations pages with limit and cursor', async () => {
    await fill('default', 120, 'open', Date.now() + 600_000, 'flow:page-');
    const seen: string[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const res = await call(`/destinations?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      const page: { destinations: { destination: string }[]; next_cursor: string | null } = await json(res);
      expect(page.destinations.length).toBeLessThanOrEqual(50);
      seen.push(...page.destinations.map((d) => d.destination));
      cursor = page.next_cursor;
      pages++;
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((d) => d.startsWith('flow:page-'))).toHaveLength(120);
  });

  it('the cron tick prunes closed circuits that stopped failing and open ones nobody waits for', async () => {
    const now = Date.now();
    await fill('pruned', 10, 'closed', now - 3_600_000, 'flow:old-closed-');
    await fill('pruned', 10, 'open', now - 3 * 3_600_000, 'flow:idle-open-');
    await fill('pruned', 3, 'closed', now, 'flow:fresh-closed-');
    await fill('pruned', 3, 'open', now + 60_000, 'flow:fresh-open-');
    await sweep(env, now);
    const { results } = await env.DB.prepare(`SELECT destination FROM circuits WHERE app_id = 'pruned' ORDER BY destination`).all<{ destination: string }>();
    expect(results.map((r) => r.destination.replace(/\d+$/, ''))).toEqual([...Array(3).fill('flow:fresh-closed-'), ...Array(3).fill('flow:fresh-open-')]);
  });

  it('ALERT_URL hears of many circuits changing in one call per app per tick, listing them', { timeout: 30_000 }, async () => {
    const alerts = hook('ok');
    const vars = { BREAKER_THRESHOLD: '1', BREAKER_INTERVAL: '60', ALERT_URL: alerts.url };
    const bad = hook('status', 'code=500');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await enqueue(bad.url, 'x', { flow_key: `alerting-${i}`, max_retries: '3' })).task.id);
    await consume(ids, vars);
    await sweep({ ...env, ...vars } as Env);
    const told = (await received(alerts.key)).map((r) => JSON.parse(Buffer.from(r.body, 'base64').toString()));
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ type: 'circuits.changed', app: 'default' });
    expect(new Set(told[0].changes.map((c: { destination: string }) => c.destination))).toEqual(new Set(ids.map((_, i) => `flow:alerting-${i}`)));
    // Nothing new: the next tick says nothing.
    await sweep({ ...env, ...vars } as Env);
    expect(await received(alerts.key)).toHaveLength(1);
  });
});
