import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PREFETCH_CIRCUITS } from '../src/flow/breaker';
import { consume, enqueue, getTask, hook, received } from './helpers';
import { slowD1 } from './faults';
import { createMessageBatch } from 'cloudflare:test';
import { handleQueue } from '../src/dispatch/consumer';
import { FRESH_MS, noCircuits, STALE_MS } from '../src/flow/no-circuits';
import { getConfig } from '../src/config';
import { waitFor } from './helpers';

// A consumer invocation reads its batch's circuits alongside its first claim, by app (the apps
// are in the messages; the destinations only in the claimed rows): with D1 a round trip away, and
// in line behind other statements when busy, a read sent after the claim's answer kept every
// claimed task waiting that long more out of its start window.

type Step = 'claim sent' | 'claim answered' | 'circuits sent' | 'circuits answered';

/** A D1 binding that notes when claims and circuit reads go out and come back, in order. */
function timeline(real: D1Database) {
  const steps: Step[] = [];
  const kind = (sql: string) =>
    /^\s*UPDATE tasks SET status = 'in_progress'/.test(sql) ? 'claim' : /^\s*SELECT/i.test(sql) && /FROM circuits/.test(sql) ? 'circuits' : null;
  const unwrap = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const w = new Proxy(stmt, {
      get(target, prop) {
        if (prop === 'bind') return (...v: unknown[]) => wrap(target.bind(...v), sql);
        const value = Reflect.get(target, prop);
        if (typeof value !== 'function') return value;
        if (!['all', 'first', 'run', 'raw'].includes(String(prop)) || !kind(sql)) return value.bind(target);
        return async (...args: unknown[]) => {
          steps.push(`${kind(sql)} sent` as Step);
          const out = await value.apply(target, args);
          steps.push(`${kind(sql)} answered` as Step);
          return out;
        };
      },
    });
    unwrap.set(w, stmt);
    return w;
  };
  const db = new Proxy(real, {
    get(target, prop) {
      if (prop === 'prepare') return (sql: string) => wrap(target.prepare(sql), sql);
      if (prop === 'batch') return (stmts: D1PreparedStatement[]) => target.batch(stmts.map((s) => unwrap.get(s) ?? s));
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { db, steps };
}

const openCircuit = (destination: string) =>
  env.DB.prepare(`INSERT OR REPLACE INTO circuits (app_id, destination, state, failures, since, probe_at, interval_ms)
    VALUES ('default', ?1, 'open', 9, ?2, ?3, 600000)`).bind(destination, Date.now(), Date.now() + 600_000).run();

/**
 * Consumer invocations of one isolate (the same env object each time, as the platform gives it)
 * for a new app: `invoke(url)` runs one task of the app to `url`; `reads()` counts circuit reads.
 */
async function oneIsolate(name: string) {
  const app = `${name}-${crypto.randomUUID()}`;
  await env.DB.prepare(`INSERT INTO app_stats (app_id, folded_to) VALUES (?1, '') ON CONFLICT DO NOTHING`).bind(app).run();
  const { db, steps } = timeline(env.DB);
  const isolate = { ...env, BREAKER_THRESHOLD: '3', DB: db } as Env;
  const invoke = async (url: string) => {
    const id = (await enqueue(url, 'x')).task.id as string;
    await env.DB.prepare('UPDATE tasks SET app_id = ?1 WHERE id = ?2').bind(app, id).run();
    await handleQueue(createMessageBatch('torque-tasks', [{ id, timestamp: new Date(), attempts: 1, body: { ids: [id], app } }]), isolate);
  };
  return { app, invoke, reads: () => steps.filter((s) => s === 'circuits sent').length };
}

describe('circuit reads', () => {
  it("go out with the invocation's first claim, not after its answer", async () => {
    const ok = hook('ok');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await enqueue(ok.url, 'x')).task.id);
    const { db, steps } = timeline(env.DB);
    await consume(ids, { BREAKER_THRESHOLD: '3', DB: db });
    expect(await received(ok.key)).toHaveLength(3);
    expect(steps).toContain('claim answered');
    expect(steps).toContain('circuits sent');
    expect(steps.indexOf('circuits sent')).toBeLessThan(steps.indexOf('claim answered'));
    // One circuit read for the invocation, as before.
    expect(steps.filter((s) => s === 'circuits sent')).toHaveLength(1);
  });

  it('an open circuit past what the first read covers still holds its tasks back', async () => {
    // More circuits of the app than the read takes, all sorting before the one that matters.
    await env.DB.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
      INSERT OR REPLACE INTO circuits (app_id, destination, state, failures, since, probe_at, interval_ms)
      SELECT 'default', 'flow:aa-' || printf('%05d', i), 'closed', 1, ?2, ?2, 30000 FROM n`).bind(PREFETCH_CIRCUITS + 5, Date.now()).run();
    await openCircuit('flow:zz');
    const ok = hook('ok');
    const { task } = await enqueue(ok.url, 'x', { flow_key: 'zz' });
    const { db, steps } = timeline(env.DB);
    await consume([task.id], { BREAKER_THRESHOLD: '3', DB: db });
    expect(await received(ok.key)).toHaveLength(0);
    expect(await getTask(task.id)).toMatchObject({ status: 'pending', attempts: 0 });
    // The app's circuits did not all come with the first read: its destination was read on its own.
    expect(steps.filter((s) => s === 'circuits sent')).toHaveLength(2);
  });

  it('an open circuit among the few an app has holds its tasks back, from the one read', async () => {
    await env.DB.prepare(`DELETE FROM circuits`).run();
    await openCircuit('flow:few');
    const ok = hook('ok');
    const { task } = await enqueue(ok.url, 'x', { flow_key: 'few' });
    const { db, steps } = timeline(env.DB);
    await consume([task.id], { BREAKER_THRESHOLD: '3', DB: db });
    expect(await received(ok.key)).toHaveLength(0);
    expect(await getTask(task.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(steps.filter((s) => s === 'circuits sent')).toHaveLength(1);
  });

  it('an invocation whose claim finds nothing still waits for its circuit read: it ends with no call in flight', async () => {
    const ok = hook('ok');
    const { task } = await enqueue(ok.url, 'x');
    await consume([task.id]);
    expect(await getTask(task.id)).toMatchObject({ status: 'completed' });
    // A duplicate message: its claim finds nothing, while the circuit read is slow in line. An
    // invocation that ended before it answered would leave a D1 call behind, cut off mid-flight.
    const slow = slowD1((sql) => /^\s*SELECT/i.test(sql) && /FROM circuits/.test(sql), 300);
    const { db, steps } = timeline(slow);
    await consume([task.id], { BREAKER_THRESHOLD: '3', DB: db });
    expect(slow.slowed()).toBe(1);
    expect(steps).toEqual(expect.arrayContaining(['claim answered', 'circuits sent', 'circuits answered']));
  });

  it('an app just found with no circuit is not read again by the same isolate for a second; one it records a failure for is', async () => {
    const { invoke, reads } = await oneIsolate('quiet');
    const ok = hook('ok').url;
    const started = Date.now();
    await invoke(ok);
    expect(reads()).toBe(1);
    await invoke(ok);
    if (Date.now() - started < FRESH_MS) expect(reads()).toBe(1); // found with none just now: not read again
    // A failure this isolate records makes the next invocation read again, at once.
    await invoke(hook('status', 'code=500').url);
    const before = reads();
    await invoke(ok);
    expect(reads()).toBe(before + 1);
  });

  it('an app whose background read finds more circuits than it covers is forgotten: the next invocation reads and waits', async () => {
    const { app, invoke, reads } = await oneIsolate('grows');
    const ok = hook('ok').url;
    await invoke(ok); // found with none: remembered
    const found = Date.now();
    // Meanwhile (another isolate, say) the app gets more circuits than one read covers.
    await env.DB.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
      INSERT OR REPLACE INTO circuits (app_id, destination, state, failures, since, probe_at, interval_ms)
      SELECT ?3, 'flow:g-' || printf('%05d', i), 'closed', 1, ?2, ?2, 30000 FROM n`).bind(PREFETCH_CIRCUITS + 5, Date.now(), app).run();
    await waitFor(async () => Date.now() - found > FRESH_MS + 50, 'the remembered answer to go stale');
    await invoke(ok); // stale: read again in the background, which finds the circuits
    const before = reads();
    await invoke(ok);
    expect(reads()).toBeGreaterThan(before);
  });

  it('an app remembered with no circuit: used as it is for a second, then read again in the background by one invocation, then read and waited for', () => {
    const none = noCircuits(getConfig({ ...env } as Env));
    const t = 1_000_000;
    expect(none.look('a', t)).toBe('read');
    none.none('a', t);
    expect(none.look('a', t + FRESH_MS)).toBe('none');
    // Stale: the first invocation after FRESH_MS reads it again without waiting; others meanwhile do not.
    expect(none.look('a', t + FRESH_MS + 1)).toBe('refresh');
    expect(none.look('a', t + FRESH_MS + 2)).toBe('none');
    expect(none.look('a', t + 2 * FRESH_MS + 2)).toBe('refresh');
    // Never refreshed (the reads failed): past STALE_MS it is read, and waited for, again.
    expect(none.look('a', t + STALE_MS + 1)).toBe('read');
    // A read sent before this isolate recorded a circuit for the app does not make it 'none'.
    none.some('b', t + 10);
    none.none('b', t + 5);
    expect(none.look('b', t + 11)).toBe('read');
    none.none('a', t + 20);
    none.some('a', t + 21);
    expect(none.look('a', t + 22)).toBe('read');
  });
});
