import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { D1_TRANSIENT_MESSAGES, d1Failure } from '../src/store/errors';
import { sweep } from '../src/sweep/sweep';
import { getConfig } from '../src/config';
import { afterWalk, callWith, consume, enqueue, getTask, hook, received, recordingQueue } from './helpers';
import { failingQueue, faultyD1, is } from './faults';

const post = (error: string) =>
  callWith({ DB: faultyD1(is.insert, env.DB, () => new Error(error)) }, `/?url=${encodeURIComponent(hook('ok').url)}`, { method: 'POST', body: 'x' });

/** A database whose statements matching `which` fail `times` times with `message`, then work. */
const failsFirst = (which: (sql: string) => boolean, message: string, times = 1) => {
  let left = times;
  return faultyD1((sql) => which(sql) && left-- > 0, env.DB, () => new Error(message));
};

// D1's error list (https://developers.cloudflare.com/d1/observability/debug-d1/#error-list), as the
// binding throws them: prefixed with D1_ERROR, and bare.
const TRANSIENT = D1_TRANSIENT_MESSAGES.flatMap((m) => (m.startsWith('D1_ERROR') ? [m] : [`D1_ERROR: ${m}`, m]));

describe('D1 failures a client should retry: 503 + Retry-After', () => {
  it.each(TRANSIENT.concat(['D1_ERROR: SQLITE_BUSY: database is locked', 'D1_ERROR: some failure D1 has not documented yet']))('%s', async (error) => {
    const res = await post(error);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('storage_unavailable');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('D1 failures that would fail again: 500, no Retry-After', () => {
  it.each([
    ['D1_ERROR: UNIQUE constraint failed: tasks.app_id, tasks.id: SQLITE_CONSTRAINT', 'storage_error'],
    ['D1_ERROR: string or blob too big: SQLITE_TOOBIG', 'storage_error'],
    ['D1_ERROR: statement too long: SQLITE_TOOBIG', 'storage_error'],
    ['D1_ERROR: too many SQL variables at offset 10: SQLITE_ERROR', 'storage_error'],
    ['D1_ERROR: near "INSERTZ": syntax error at offset 0: SQLITE_ERROR', 'storage_error'],
    ['D1_EXEC_ERROR: Error in line 1: INSERTZ INTO t VALUES (): sql error: near "INSERTZ": syntax error', 'storage_error'],
    ["D1_TYPE_ERROR: Type 'undefined' not supported for value 'undefined'", 'storage_error'],
    ['D1_COLUMN_NOTFOUND: no such column: nope', 'storage_error'],
    ['D1_ERROR: no such table: tasks: SQLITE_ERROR', 'not_migrated'],
  ])('%s -> %s', async (error, code) => {
    const res = await post(error);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    expect(res.headers.get('retry-after')).toBeNull();
  });

  it('reads the cause drizzle wraps around D1 errors, and leaves our own bugs alone', () => {
    expect(d1Failure(new Error('Failed query: insert ...', { cause: new Error('D1_ERROR: Network connection lost.') }))).toBe('transient');
    expect(d1Failure(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBeNull();
  });
});

describe('the consumer and the sweeper retry transient D1 failures', () => {
  it('records an outcome whose first write met a transient failure: no retry spent, one call', async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url);
    const result = await consume([task.id], { DB: failsFirst(is.record, 'D1_ERROR: Network connection lost.') });
    expect(result.ackAll).toBe(true);
    expect(await getTask(task.id)).toMatchObject({ status: 'completed', attempts: 1 });
    expect(await received(h.key)).toHaveLength(1);
  });

  it("a database's sweep that met a transient failure is tried again in the same tick", async () => {
    const h = hook('ok');
    // Enqueued while the queue is down: only the sweeper can send it.
    const res = await callWith({ TASKS: failingQueue }, `/?url=${encodeURIComponent(h.url)}`, { method: 'POST', body: 'x' });
    const { id } = (await res.json()) as { id: string };
    const q = recordingQueue();
    const report = await sweep({ ...env, ...q.vars, DB: failsFirst((sql) => sql.includes('wake_at'), 'D1_ERROR: D1 DB is overloaded. Too many requests queued.') } as Env, afterWalk(getConfig(env).SWEEP_GRACE * 1000));
    expect(report.failed).toEqual([]);
    expect(q.ids()).toContain(id);
  });
});
