import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../src/config';
import { sweep } from '../src/sweep/sweep';
import { mergePages } from '../src/tasks/app-tasks';
import { failingQueue, faultyD1, guardedD1, is } from './faults';
import { afterWalk, callWith, consume, hook, json, received, recordingQueue, waitFor } from './helpers';

// Torque over three local D1 databases (DATABASES), against the real runtime and hook server.
const { DB_1, DB_2 } = env as unknown as Record<'DB_1' | 'DB_2', D1Database>;
const DBS = { DB: env.DB, DB_1, DB_2 };
const THREE = { DATABASES: 'DB,DB_1,DB_2' };

const post = (vars: Record<string, unknown>, url: string, headers: Record<string, string> = {}) =>
  callWith(vars, `/?url=${encodeURIComponent(url)}`, { method: 'POST', body: 'x=1', headers });
const enqueueIn = async (vars: Record<string, unknown>, url: string, n: number) => {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(((await (await post(vars, url)).json()) as { id: string }).id);
  return ids;
};
/** Which database holds each of these ids (by looking, not by the id). */
async function whereAre(ids: string[]) {
  const where = new Map<string, string>();
  for (const [name, db] of Object.entries(DBS)) {
    const { results } = await db.prepare('SELECT id FROM tasks WHERE id IN (SELECT value FROM json_each(?1))').bind(JSON.stringify(ids)).all<{ id: string }>();
    for (const r of results) where.set(r.id, name);
  }
  return where;
}
/** Every page of a listing, following next_cursor. */
async function listAll(vars: Record<string, unknown>, query: string) {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { tasks: { id: string }[]; next_cursor: string | null } = await json(callWith(vars, `/tasks?${query}${cursor ? `&cursor=${cursor}` : ''}`));
    ids.push(...page.tasks.map((t) => t.id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

describe('several D1 databases', () => {
  it('spreads new tasks over every database; an id names its database and reads go straight there', async () => {
    const h = hook('ok');
    const ids = await enqueueIn(THREE, h.url, 30);
    const where = await whereAre(ids);
    expect(where.size).toBe(30);
    expect(new Set(where.values())).toEqual(new Set(['DB', 'DB_1', 'DB_2']));
    for (const id of ids) expect(where.get(id)).toBe(['DB', 'DB_1', 'DB_2'][Number(id.at(-1))]);
    for (const id of ids.slice(0, 6)) expect((await json(callWith(THREE, `/tasks/${id}`))).id).toBe(id);
    // The same id read by a deployment that does not have its database: no such task.
    const elsewhere = ids.find((id) => !id.endsWith('0'))!;
    expect((await callWith({}, `/tasks/${elsewhere}`)).status).toBe(404);
    expect((await callWith(THREE, `/tasks/${elsewhere}`, { method: 'DELETE' })).status).toBe(204);
    expect((await whereAre([elsewhere])).size).toBe(0);
  });

  it('runs a consumer batch mixing databases: each task is claimed and recorded in its own', async () => {
    const h = hook('ok');
    const ids = await enqueueIn(THREE, h.url, 12);
    await consume(ids, THREE);
    expect(new Set((await received(h.key)).map((r) => r.headers['torque-task-id']))).toEqual(new Set(ids));
    for (const id of ids) expect((await json(callWith(THREE, `/tasks/${id}`))).status).toBe('completed');
  });

  it('starts the tasks of the databases that answered their claim while another database\'s claim is still out', async () => {
    const h = hook('ok');
    // Two tasks in each database.
    const ids: string[] = [];
    const inDb = (n: number) => ids.filter((id) => id.endsWith(String(n)));
    while ([0, 1, 2].some((n) => inDb(n).length < 2)) {
      const [id] = await enqueueIn(THREE, h.url, 1);
      if (inDb(Number(id.at(-1))).length < 2) ids.push(id);
      else await callWith(THREE, `/tasks/${id}`, { method: 'DELETE' });
    }
    // DB_2's claims wait in its line until the test lets them through.
    let through!: () => void;
    const line = new Promise<void>((r) => (through = r));
    let claimsRun = 0;
    const slow = guardedD1(DB_2, is.claim, async (run) => (await line, claimsRun++, run()));
    const running = consume(ids, { ...THREE, DB_2: slow });
    const others = new Set([...inDb(0), ...inDb(1)]);
    try {
      // (Before, nothing started until every database had answered.) At least one, not all: on a
      // busy machine a claimed task may miss its start window and go back, to be delivered again.
      await waitFor(async () => (await received(h.key)).length >= 1, 'a task of DB or DB_1 reaches the hook');
      for (const r of await received(h.key)) expect(others.has(r.headers['torque-task-id'])).toBe(true);
      expect(claimsRun).toBe(0); // DB_2's claim was still out
    } finally {
      through();
      await running;
    }
    expect(new Set((await received(h.key)).map((r) => r.headers['torque-task-id']))).toEqual(new Set(ids));
    for (const id of ids) expect(await json(callWith(THREE, `/tasks/${id}`))).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('serves attempts, single retries and the dashboard for tasks in any database', async () => {
    const h = hook('seq', 'codes=500,500,200');
    const ids = await enqueueIn(THREE, h.url, 6);
    const far = ids.filter((id) => !id.endsWith('0'));
    expect(far.length).toBeGreaterThan(0);
    const id = far[0];
    await consume([id], THREE);
    expect((await json(callWith(THREE, `/tasks/${id}`))).status).toBe('retry');
    const retried = await callWith(THREE, `/tasks/${id}/retry`, { method: 'POST' });
    expect(retried.status).toBe(202);
    await consume([id], THREE);
    expect((await json<{ attempts: unknown[] }>(callWith(THREE, `/tasks/${id}/attempts`))).attempts).toHaveLength(2);
    const page = await (await callWith(THREE, '/dashboard')).text();
    for (const t of ids) expect(page).toContain(t);
    expect((await callWith(THREE, `/dashboard/tasks/${id}`)).status).toBe(200);
  });

  it('lists newest first across databases, each task exactly once, with and without a status', async () => {
    const h = hook('ok');
    const ids = await enqueueIn(THREE, h.url, 25);
    const done = ids.filter((_, i) => i % 3 === 0);
    await consume(done, THREE);
    const all = await listAll(THREE, 'limit=4');
    expect(all.filter((id) => ids.includes(id))).toEqual([...ids].sort().reverse());
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual([...all].sort().reverse());
    const completed = await listAll(THREE, 'status=completed&limit=3');
    expect(completed.filter((id) => ids.includes(id))).toEqual([...done].sort().reverse());
  });

  it('property: merging pages that each database walked lists every match once, newest first', () => {
    const WALK = 5; // a walk step, as store/tasks.ts walks at most WALK rows per page
    const walk = (rows: { id: string; ok: boolean }[], before: string, limit: number) => {
      const seen = rows.filter((r) => r.id < before).sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, WALK);
      const items: { id: string }[] = [];
      for (const r of seen) if (r.ok && items.length < limit) items.push({ id: r.id });
      const next = items.length === limit ? items.at(-1)!.id : seen.length === WALK ? seen.at(-1)!.id : null;
      return { items, next };
    };
    fc.assert(fc.property(
      fc.array(fc.array(fc.record({ n: fc.integer({ min: 0, max: 500 }), ok: fc.boolean() }), { maxLength: 30 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 1, max: 7 }),
      (dbs, limit) => {
        // Unique ids, each database's ending in its number (as real ids do).
        const shards = dbs.map((rows, s) => [...new Map(rows.map((r) => [`${String(r.n).padStart(3, '0')}${s}`, r.ok]))].map(([id, ok]) => ({ id, ok })));
        const got: string[] = [];
        let before = '~';
        for (let guard = 0; guard < 1000; guard++) {
          const page = mergePages(shards.map((rows) => walk(rows, before, limit)), limit);
          expect(page.items.length).toBeLessThanOrEqual(limit);
          got.push(...page.items.map((t) => t.id));
          if (!page.next) break;
          before = page.next;
        }
        expect(got).toEqual(shards.flat().filter((r) => r.ok).map((r) => r.id).sort().reverse());
      },
    ), { numRuns: 300 });
  });

  it('counts exactly across databases in /stats and /metrics, before and after the sweeper folds', async () => {
    const h = hook('ok');
    const ids = await enqueueIn(THREE, h.url, 9);
    await consume(ids.slice(0, 4), THREE);
    const rows = async () => {
      const counts: Record<string, number> = { pending: 0, in_progress: 0, retry: 0, completed: 0, failed: 0 };
      for (const db of Object.values(DBS)) {
        const { results } = await db.prepare("SELECT status, count(*) AS n FROM tasks WHERE app_id = 'default' GROUP BY status").all<{ status: string; n: number }>();
        for (const r of results) counts[r.status] += r.n;
      }
      return counts;
    };
    const check = async () => {
      const actual = await rows();
      expect((await json(callWith(THREE, '/stats'))).tasks).toEqual(actual);
      const text = await (await callWith(THREE, '/metrics', { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } })).text();
      for (const [status, n] of Object.entries(actual)) expect(text).toContain(`torque_tasks{app="default",status="${status}"} ${n}\n`);
    };
    await check();
    const report = await sweep({ ...env, ...THREE } as Env, afterWalk());
    expect(report.failed).toEqual([]);
    await check();
  });

  it('finds an idempotency key wherever it lives, also after databases are added', async () => {
    const h = hook('ok');
    const key = () => `key-${crypto.randomUUID()}`;
    // Concurrent requests with one key make one task.
    const k = key();
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(THREE, h.url, { 'idempotency-key': k })));
    const made = await Promise.all(answers.map((r) => json<{ id: string }>(r)));
    expect(new Set(made.map((t) => t.id)).size).toBe(1);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    // Keys used while Torque had one database are still honoured once it has three.
    const keys = Array.from({ length: 6 }, key);
    const before = await Promise.all(keys.map(async (k) => json<{ id: string }>(post({}, h.url, { 'idempotency-key': k }))));
    const after = await Promise.all(keys.map(async (k) => post(THREE, h.url, { 'idempotency-key': k })));
    expect(after.map((r) => r.status)).toEqual(keys.map(() => 200));
    expect(await Promise.all(after.map(async (r) => (await json<{ id: string }>(r)).id))).toEqual(before.map((t) => t.id));
    // And in a batch.
    const batch = await json<{ tasks: { id: string }[] }>(callWith(THREE, '/batch', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ url: h.url, idempotency_key: keys[0] }, { url: h.url, idempotency_key: key() }]),
    }));
    expect(batch.tasks[0].id).toBe(before[0].id);
    // A database that is down does not stop keyed enqueues that go to the others.
    const broken = { ...THREE, DB_2: faultyD1(is.any, DB_2) };
    let ok = 0;
    for (let i = 0; i < 6; i++) {
      const res = await post(broken, h.url, { 'idempotency-key': key() });
      if (res.status === 201) ok++;
      else expect(res.status).toBe(503); // the key's own database is the broken one
    }
    expect(ok).toBeGreaterThan(0);
  });

  it('bulk replay and DELETE / reach every database', async () => {
    const h = hook('ok');
    const ids = await enqueueIn(THREE, h.url, 12);
    await consume(ids, THREE);
    let retried = 0;
    let cursor = '';
    do {
      const r = await json<{ retried: number; next_cursor: string | null }>(callWith(THREE, `/tasks/retry?status=completed${cursor}`, { method: 'POST' }));
      retried += r.retried;
      cursor = r.next_cursor ? `&cursor=${r.next_cursor}` : '';
    } while (cursor);
    expect(retried).toBeGreaterThanOrEqual(12);
    for (const id of ids) expect((await json(callWith(THREE, `/tasks/${id}`))).status).toBe('retry');
    const gone = await json<{ deleted: number; next_cursor: string | null }>(callWith(THREE, '/?status=retry', { method: 'DELETE' }));
    expect(gone.deleted).toBeGreaterThanOrEqual(12);
    expect((await whereAre(ids)).size).toBe(0);
  });

  it('sweeps every database; one that fails holds up none of the others and is caught up later', async () => {
    const h = hook('ok');
    // Enqueued while the queue is down: every message is lost, only the sweeper can send them.
    const ids = await enqueueIn({ ...THREE, TASKS: failingQueue, TASKS_BULK: failingQueue }, h.url, 15);
    const where = await whereAre(ids);
    const q = recordingQueue();
    const at = afterWalk(getConfig(env).SWEEP_GRACE * 1000);
    const broken = await sweep({ ...env, ...THREE, ...q.vars, DB_1: faultyD1(is.any, DB_1) } as Env, at);
    expect(broken.failed).toEqual(['DB_1']);
    const sent = new Set(q.ids());
    for (const id of ids) expect(sent.has(id), `${id} in ${where.get(id)}`).toBe(where.get(id) !== 'DB_1');
    const later = recordingQueue();
    const healed = await sweep({ ...env, ...THREE, ...later.vars } as Env, at + 60_000);
    expect(healed.failed).toEqual([]);
    expect(new Set(later.ids().filter((id) => ids.includes(id)))).toEqual(new Set(ids.filter((id) => where.get(id) === 'DB_1')));
  });

  it('takes a database added to a running deployment, and stops placing tasks in a draining one', async () => {
    const h = hook('ok');
    const old = await enqueueIn({}, h.url, 4);
    expect(old.every((id) => id.endsWith('0'))).toBe(true);
    const fresh = await enqueueIn(THREE, h.url, 12);
    const listed = await listAll(THREE, 'limit=50');
    for (const id of [...old, ...fresh]) expect(listed).toContain(id);
    for (const id of old) expect((await json(callWith(THREE, `/tasks/${id}`))).id).toBe(id);
    const drained = await enqueueIn({ ...THREE, DRAIN_DATABASES: 'DB_1' }, h.url, 20);
    expect([...(await whereAre(drained)).values()]).not.toContain('DB_1');
  });

  it('names a database list it cannot use', async () => {
    for (const DATABASES of ['DB,DB_9', 'DB_1,DB_2', 'DB,nope']) {
      const res = await callWith({ DATABASES }, '/stats');
      expect(res.status, DATABASES).toBe(500);
      expect((await json(res)).error.message).toContain('DATABASES');
    }
    const res = await callWith({ ...THREE, DRAIN_DATABASES: 'DB,DB_1,DB_2' }, '/stats');
    expect((await json(res)).error.message).toContain('DRAIN_DATABASES');
  });
});
