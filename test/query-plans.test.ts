// Every statement Torque actually sends (drizzle-built ones included) must reach tasks, attempts and
// stats rows through an index: a workload touching every endpoint, the consumer and the sweeper runs
// over a D1 that records each distinct statement, then each one is EXPLAINed with the values it was
// sent with. A plan line that walks one of those tables (SCAN ...) fails the test.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { handleQueue } from '../src/dispatch/consumer';
import { sweep } from '../src/sweep/sweep';
import { callWith, hook } from './helpers';
import { createMessageBatch } from 'cloudflare:test';
import { watchedD1 } from './d1-wrap';

const seen = new Map<string, unknown[]>();
const recording = (real: D1Database) =>
  watchedD1(real, { prepare: (sql) => void (seen.has(sql) || seen.set(sql, [])), bind: (sql, values) => void seen.set(sql, values) });

const WALKS = /^SCAN (tasks|t|attempts|stats_minutes|schedules|sc|idempotency_keys|ik)\b/;

describe('query plans', () => {
  it('no statement Torque sends walks tasks, attempts or stats', async () => {
    const DB = recording(env.DB);
    const vars = { DB };
    const send = (path: string, init?: RequestInit) => callWith(vars, path, init);
    const ok = hook('ok').url;
    const failing = hook('status', 'code=500').url;
    const made: string[] = [];
    for (const url of [ok, failing]) {
      const res = await send(`/?url=${encodeURIComponent(url)}&max_retries=1`, { method: 'POST', body: 'x', headers: { 'idempotency-key': `k-${url}` } });
      made.push(((await res.json()) as { id: string }).id);
    }
    await send(`/?url=${encodeURIComponent(ok)}&delay=600`, { method: 'POST', body: 'x' });
    await send(`/?url=${encodeURIComponent(ok)}`, { method: 'POST', body: 'x', headers: { 'idempotency-key': `k-${ok}` } });
    await send('/batch', { method: 'POST', body: JSON.stringify([{ url: ok, body_base64: 'AAE=' }, { url: ok, delay: 90000 }]), headers: { 'content-type': 'application/json' } });
    // A keyed topic publish, made and then retried (its key is found, not claimed).
    await send('/topics/plans', { method: 'PUT', body: JSON.stringify({ endpoints: [ok, failing] }), headers: { 'content-type': 'application/json' } });
    for (let i = 0; i < 2; i++) expect((await send('/topics/plans', { method: 'POST', body: 'x', headers: { 'idempotency-key': 'plan-1' } })).status).toBeLessThan(300);
    const batch = createMessageBatch('torque-tasks', made.map((id, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body: { ids: [id], app: 'default' } })));
    await handleQueue(batch, { ...env, DB } as Env);
    for (const path of [`/tasks/${made[0]}`, `/tasks/${made[0]}?include=body`, `/tasks/${made[1]}/attempts`, '/tasks', '/tasks?status=failed', '/stats', '/dashboard', `/dashboard/tasks/${made[0]}`]) {
      expect((await send(path)).status, path).toBeLessThan(400);
    }
    expect((await send('/metrics', { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } })).status).toBe(200);
    await send(`/tasks/${made[1]}/retry`, { method: 'POST' });
    await send('/tasks/retry?status=completed', { method: 'POST' });
    await handleQueue(createMessageBatch('torque-tasks', [{ id: 'm9', timestamp: new Date(), attempts: 1, body: { ids: [made[1]], app: 'default' } }]), { ...env, DB } as Env);
    // COMPLETED_TTL=0: completed tasks are deleted by their outcome.
    const brief = ((await (await send(`/?url=${encodeURIComponent(ok)}`, { method: 'POST', body: 'x' })).json()) as { id: string }).id;
    await handleQueue(createMessageBatch('torque-tasks', [{ id: 'm10', timestamp: new Date(), attempts: 1, body: { ids: [brief], app: 'default' } }]), { ...env, DB, COMPLETED_TTL: '0' } as Env);
    expect((await send(`/tasks/${brief}`)).status).toBe(404);
    // A schedule, due at the sweeps below, and the listing of its tasks.
    const sched = (await (await send('/schedules', { method: 'POST', body: JSON.stringify({ cron: '* * * * *', url: ok }), headers: { 'content-type': 'application/json' } })).json()) as { id: string };
    for (const later of [0, 400_000, 3_600_000, 90_000_000, 700_000_000, 3_000_000_000]) await sweep({ ...env, DB } as Env, Date.now() + later);
    for (const path of [`/schedules/${sched.id}`, '/schedules', `/tasks?schedule_id=${sched.id}`]) expect((await send(path)).status, path).toBe(200);
    expect((await send(`/schedules/${sched.id}`, { method: 'PATCH', body: JSON.stringify({ cron: '0 * * * *' }), headers: { 'content-type': 'application/json' } })).status).toBe(200);
    await send(`/tasks/${made[0]}`, { method: 'DELETE' });
    await send('/?status=failed', { method: 'DELETE' });
    await send('/?all=true', { method: 'DELETE' });

    expect(seen.size).toBeGreaterThan(20);
    const walks: string[] = [];
    for (const [sql, params] of seen) {
      const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...params).all<{ detail: string }>();
      const bad = results.map((r) => r.detail).filter((d) => WALKS.test(d));
      if (bad.length) walks.push(`${bad.join(', ')}\n  in: ${sql.replace(/\s+/g, ' ').slice(0, 300)}`);
    }
    expect(walks, walks.join('\n')).toEqual([]);
  });
});
