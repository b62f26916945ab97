import fc from 'fast-check';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { claimTasks } from '../src/store/claim';
import { openDb } from '../src/store';
import { sweep } from '../src/sweep/sweep';
import { afterWalk, call, callWith, consume, enqueue, expectCountsExact, getTask, hook, received, sweepCaughtUp, timePasses } from './helpers';
import { answerLostD1, failingQueue, faultyD1, is } from './faults';

const GRACE = Number(env.SWEEP_GRACE) * 1000;
/** How long a claim of a task with a 1 s timeout is leased: its timeout plus the grace. */
const LEASE = 1000 + GRACE;
const sweepUntilQuiet = async (ms: number) => {
  await timePasses(ms);
  for (let i = 0; i < 5; i++) {
    const r = await sweepCaughtUp();
    if (!r.recovered && !r.resent && !r.deleted) return;
  }
};

/** Every task completed, delivered at least once, never after deletion; counters match the rows. */
async function expectSettled(ids: string[], key: string) {
  const got = await received(key);
  for (const id of ids) {
    const t = await getTask(id);
    expect(t.status, id).toBe('completed');
    const calls = got.filter((r) => r.headers['torque-task-id'] === id);
    expect(calls.length, id).toBeGreaterThanOrEqual(1);
    expect(t.attempts).toBeGreaterThanOrEqual(calls.length);
  }
  await expectCountsExact();
}

describe('faults on the way in', () => {
  it('accepts a task when the queue send fails after the insert; the sweeper delivers it', async () => {
    const h = hook('ok');
    const res = await callWith({ TASKS: failingQueue }, `/?url=${encodeURIComponent(h.url)}`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    await timePasses(GRACE + 1000);
    expect((await sweepCaughtUp()).resent).toBeGreaterThanOrEqual(1);
    await consume([id]);
    await expectSettled([id], h.key);
  });

  it('answers 503 with Retry-After when D1 fails, storing nothing; an idempotent retry creates one task', async () => {
    const h = hook('ok');
    const key = `503-${Math.random()}`;
    const post = (vars: Record<string, unknown>): Promise<Response> =>
      callWith(vars, `/?url=${encodeURIComponent(h.url)}`, { method: 'POST', body: 'x', headers: { 'idempotency-key': key } });
    const down = await post({ DB: faultyD1(is.any) });
    expect(down.status).toBe(503);
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await down.json()) as any).error.code).toBe('storage_unavailable');
    expect(await env.DB.prepare('SELECT count(*) n FROM tasks WHERE idempotency_key = ?').bind(key).first('n')).toBe(0);
    const results = await Promise.all([post({}), post({}), post({ DB: faultyD1(is.insert) })]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 201, 503]);
    expect(await env.DB.prepare('SELECT count(*) n FROM tasks WHERE idempotency_key = ?').bind(key).first('n')).toBe(1);
  });

  it('answers 503 for a failing batch insert and stores none of it', async () => {
    const urls = [hook('ok').url, hook('ok').url];
    const res = await callWith({ DB: faultyD1(is.insert) }, '/batch', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(urls.map((url) => ({ url }))),
    });
    expect(res.status).toBe(503);
    expect(await env.DB.prepare('SELECT count(*) n FROM tasks WHERE url IN (SELECT value FROM json_each(?))').bind(JSON.stringify(urls)).first('n')).toBe(0);
  });
});

describe('faults in the consumer', () => {
  it('hands the batch back to the queue when the claim fails, and delivers on redelivery', async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url);
    const result = await consume([task.id], { DB: faultyD1(is.claim) });
    expect(result.retryBatch.retry).toBe(true); // redelivered (after 5 s)
    expect(await received(h.key)).toHaveLength(0);
    expect((await getTask(task.id)).status).toBe('pending');
    await consume([task.id]);
    await expectSettled([task.id], h.key);
  });

  it('puts back a claim that committed but whose answer was lost: the redelivery runs it, its retry budget intact', async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url, 'x', { max_retries: '0' });
    const result = await consume([task.id], { DB: answerLostD1(is.claim) });
    expect(result.retryBatch.retry).toBe(true); // redelivered (after 5 s)
    expect(await received(h.key)).toHaveLength(0);
    // Waiting again at once (not in_progress until its lease runs out), no attempt spent.
    expect(await getTask(task.id)).toMatchObject({ status: 'pending', attempts: 0 });
    await expectCountsExact();
    await consume([task.id]);
    await expectSettled([task.id], h.key);
    expect(await getTask(task.id)).toMatchObject({ status: 'completed', attempts: 1 });
  });

  it('recovers tasks whose outcome could not be recorded once their lease runs out', async () => {
    const h = hook('ok');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await enqueue(h.url, 'x', { timeout: '1' })).task.id);
    const result = await consume(ids, { DB: faultyD1(is.record) });
    expect(result.ackAll).toBe(true);
    expect(await received(h.key)).toHaveLength(3);
    for (const id of ids) expect((await getTask(id)).status).toBe('in_progress');
    await sweepUntilQuiet(LEASE + 1000);
    for (const id of ids) expect(await getTask(id)).toMatchObject({ status: 'retry', attempts: 1 });
    await consume(ids);
    await expectSettled(ids, h.key);
    for (const id of ids) expect((await getTask(id)).attempts).toBe(2);
  });

  it('recovers tasks claimed by a consumer that died before calling anyone', async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url, 'x', { timeout: '1' });
    await claimTasks(openDb(env.DB), [{ appId: 'default', id: task.id }], Date.now(), GRACE); // ...and then the worker died
    await consume([task.id]); // a redelivered message finds it leased: nothing happens
    expect(await received(h.key)).toHaveLength(0);
    await sweepUntilQuiet(LEASE + 1000);
    await consume([task.id]);
    await expectSettled([task.id], h.key);
  });

  it('keeps going when re-sending failures fails: the sweeper sends them later', async () => {
    const h = hook('seq', 'codes=500,200');
    const { task } = await enqueue(h.url);
    const result = await consume([task.id], { TASKS: failingQueue });
    expect(result.ackAll).toBe(true);
    expect((await getTask(task.id)).status).toBe('retry');
    await sweepUntilQuiet(GRACE + 60_000);
    await consume([task.id]);
    await expectSettled([task.id], h.key);
  });

  it('keeps sweeping when the queue is down: expired tasks are deleted, lost ones sent on a later run', async () => {
    const h = hook('ok');
    const done = (await enqueue(h.url)).task.id;
    await consume([done]);
    const lost = (await enqueue(h.url)).task.id;
    // Days later (ids carry their creation time, so the sweep's clock moves, then the tasks' catches up).
    const later = afterWalk(Number(env.COMPLETED_TTL) * 1000 + GRACE);
    const down = await sweep({ ...env, TASKS: failingQueue } as Env, later);
    expect(down.deleted).toBeGreaterThanOrEqual(1);
    expect(down.resent).toBeGreaterThanOrEqual(1);
    expect((await call(`/tasks/${done}`)).status).toBe(404);
    await timePasses(later - Date.now() + GRACE + 1000);
    expect((await sweepCaughtUp()).resent).toBeGreaterThanOrEqual(1);
    await consume([lost]);
    await expectSettled([lost], h.key);
  });

  it('treats a redelivered batch, late and duplicate messages as no-ops', async () => {
    const h = hook('ok');
    const ids = [(await enqueue(h.url)).task.id, (await enqueue(h.url)).task.id];
    await consume(ids);
    await consume(ids); // the same batch again
    await consume([ids[0], ids[0], ids[1]]);
    await sweepUntilQuiet(GRACE + 1000); // nothing is overdue: nothing is sent again
    expect(await received(h.key)).toHaveLength(2);
    await expectSettled(ids, h.key);
  });

  it('never calls a task deleted while its message was in flight or its attempt was running', async () => {
    const h = hook('sleep', 'ms=300');
    const { task } = await enqueue(h.url);
    const running = consume([task.id]);
    await new Promise((r) => setTimeout(r, 100));
    expect((await call(`/tasks/${task.id}`, { method: 'DELETE' })).status).toBe(204);
    await running; // the attempt that was already running finishes; its outcome changes nothing
    expect((await call(`/tasks/${task.id}`)).status).toBe(404);
    await consume([task.id]);
    await sweepUntilQuiet(GRACE * 3);
    expect(await received(h.key)).toHaveLength(1);
  });
});

describe('the sweeper racing the consumer', () => {
  it('property: any interleaving of consumes, sweeps and redeliveries completes every task', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant('consume' as const), fc.constant('sweep' as const), fc.constant('expire' as const)), { minLength: 3, maxLength: 8 }),
        fc.array(fc.constantFrom('ok', 'seq?codes=500,200', 'seq?codes=hangup,200', 'sleep?ms=50'), { minLength: 1, maxLength: 4 }),
        async (steps, behaviours) => {
          const h = hook('x');
          const base = h.url.replace(/\/x$/, '');
          const ids: string[] = [];
          for (const b of behaviours) {
            const [name, q] = b.split('?');
            ids.push((await enqueue(`${base.replace(/\/h\/[^/]+$/, '')}/h/${h.key}-${ids.length}/${name}${q ? `?${q}` : ''}`, 'x', { timeout: '1' })).task.id);
          }
          for (const step of steps) {
            if (step === 'consume') await Promise.all([consume(ids), consume(ids.slice().reverse())]);
            if (step === 'sweep') await Promise.all([sweepCaughtUp(), consume(ids)]);
            if (step === 'expire') await timePasses(LEASE + 2000); // leases expire, retries come due
          }
          // Then enough quiet time for everything to finish.
          for (let i = 0; i < 6; i++) {
            await timePasses(LEASE + 2000);
            await Promise.all([sweepCaughtUp(), consume(ids)]);
            await consume(ids);
          }
          for (const id of ids) expect((await getTask(id)).status).toBe('completed');
        },
      ),
      { numRuns: 12 },
    );
    const { results } = await env.DB.prepare('SELECT app_id, status, count(*) n FROM tasks GROUP BY app_id, status').all<{ app_id: string; status: string; n: number }>();
    const stats = (await (await call('/stats')).json()) as { tasks: Record<string, number> };
    for (const r of results) expect(stats.tasks[r.status]).toBe(r.n);
    // Twelve runs of real consumes and sweeps: a deadline for a busy machine, not a speed claim.
  }, 180_000);
});

describe('storage errors are classified', () => {
  const post = (error: string) =>
    callWith({ DB: faultyD1(is.insert, env.DB, () => new Error(error)) }, `/?url=${encodeURIComponent(hook('ok').url)}`, { method: 'POST', body: 'x' });
  it.each([
    ['D1_ERROR: D1 DB is overloaded. Too many requests queued.', 503, 'storage_unavailable'],
    ['D1_ERROR: Network connection lost.', 503, 'storage_unavailable'],
    ['D1_ERROR: SQLITE_BUSY: database is locked', 503, 'storage_unavailable'],
    ['D1_ERROR: UNIQUE constraint failed: tasks.app_id, tasks.id: SQLITE_CONSTRAINT', 500, 'storage_error'],
    ['D1_ERROR: string or blob too big: SQLITE_TOOBIG', 500, 'storage_error'],
    ['D1_ERROR: no such table: tasks: SQLITE_ERROR', 500, 'not_migrated'],
  ])('%s -> %i %s', async (error, status, code) => {
    const res = await post(error);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    expect(res.headers.get('retry-after')).toBe(status === 503 ? '5' : null);
  });
});
