import { env } from 'cloudflare:workers';
import { Webhook } from 'standardwebhooks';
import { verifyTorqueSignature } from '../client/verify';
import { describe, expect, it } from 'vitest';
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { handleQueue, HOOK_CONCURRENCY, MAX_IDS_PER_INVOCATION } from '../src/dispatch/consumer';
import type { TaskMessage } from '../src/tasks/queue-messages';
import { call, callWith, claimed, consume, enqueue, expectCountsExact, getTask, hook, makeDue, received, recordingQueue } from './helpers';
import { guardedD1, is, slowD1 } from './faults';

/** A D1 binding that notes, for every claim that ran (a statement, or the batch of older tasks), how many tasks its answer claimed. */
const claimCounting = (claims: number[]) =>
  guardedD1(env.DB, is.claim, async (run) => {
    const answer = (await run()) as D1Result | D1Result[];
    claims.push((Array.isArray(answer) ? answer.at(-1)! : answer).results.length);
    return answer as never;
  });

const ms = (iso: string) => new Date(iso).getTime();
/** Seconds between a task's last update and its next due time: the backoff it was given. */
const backoffOf = (t: Record<string, any>) => Math.round((ms(t.due_at) - ms(t.updated_at)) / 1000);
/** Backoffs are the base delay spread by ±20 % (JITTER), within MIN_RETRY_DELAY=1 and MAX_RETRY_DELAY=60 in tests. */
const expectJittered = (tasks: Record<string, any>[], bases: number[]) => {
  const got = tasks.map((t) => (ms(t.due_at) - ms(t.updated_at)) / 1000);
  bases.forEach((b, i) => {
    // At the cap the spread goes down from it, so capped retries do not meet either.
    expect(got[i], `backoff ${i + 1}`).toBeGreaterThanOrEqual(Math.max(1, Math.min(b, 60) * 0.8) - 0.001);
    expect(got[i], `backoff ${i + 1}`).toBeLessThanOrEqual(Math.min(60, b * 1.2) + 0.001);
  });
};

/** Runs attempts until the task leaves retry or `max` attempts were made. */
async function drive(id: string, max: number) {
  const seen: Record<string, any>[] = [];
  for (let i = 0; i < max; i++) {
    await consume([id]);
    const t = await getTask(id);
    seen.push(t);
    if (t.status !== 'retry') break;
    await makeDue(id);
  }
  return seen;
}

describe('outcomes', () => {
  it('with COMPLETED_TTL=0 deletes a task as it completes (retried ones with their attempt log); counts stay exact', async () => {
    const ttl0 = { COMPLETED_TTL: '0' };
    const before = ((await (await call('/stats')).json()) as any).throughput.last_hour;
    const ok = (await enqueue(hook('ok').url)).task.id;
    const flaky = (await enqueue(hook('seq', 'codes=500,200').url)).task.id;
    const failing = (await enqueue(hook('status', 'code=500').url, 'x', { max_retries: '0' })).task.id;
    await consume([ok, flaky, failing], ttl0);
    expect((await call(`/tasks/${ok}`)).status).toBe(404);
    expect((await getTask(flaky)).status).toBe('retry');
    expect((await getTask(failing)).status).toBe('failed'); // failures are kept (FAILED_TTL)
    await makeDue(flaky);
    await consume([flaky], ttl0);
    expect((await call(`/tasks/${flaky}`)).status).toBe(404);
    const left = await env.DB.prepare('SELECT count(*) AS n FROM attempts WHERE task_id = ?').bind(flaky).first<{ n: number }>();
    expect(left!.n).toBe(0);
    await expectCountsExact();
    const after = ((await (await call('/stats')).json()) as any).throughput.last_hour;
    expect(after.completed - before.completed).toBe(2);
    expect(after.attempts - before.attempts).toBe(4);
    expect(after.enqueued - before.enqueued).toBe(3); // the deleted ones still count as enqueued
  });

  it.each([200, 201, 204, 299])('completes on %i', async (code) => {
    const { task } = await enqueue(hook('status', `code=${code}`).url);
    const result = await consume([task.id]);
    expect(result.ackAll).toBe(true);
    const t = await getTask(task.id);
    expect(t).toMatchObject({ status: 'completed', attempts: 1, last_status_code: code, last_error: null });
    expect(t.completed_at).not.toBeNull();
    expect(ms(t.expires_at) - ms(t.completed_at)).toBe(Number(env.COMPLETED_TTL) * 1000);
  });

  it('backs off exponentially on HTTP errors, then completes', async () => {
    const h = hook('seq', 'codes=500,502,404,200');
    const { task } = await enqueue(h.url, 'x', { max_retries: '5' });
    const seen = await drive(task.id, 6);
    expect(seen.map((t) => t.status)).toEqual(['retry', 'retry', 'retry', 'completed']);
    expectJittered(seen.slice(0, 3), [1, 2, 4]);
    expect(seen.slice(0, 3).map((t) => t.last_status_code)).toEqual([500, 502, 404]);
    expect(await received(h.key)).toHaveLength(4);
  });

  it('backs off linearly on network errors', async () => {
    const h = hook('hangup');
    const { task } = await enqueue(h.url, 'x', { max_retries: '3' });
    const seen = await drive(task.id, 4);
    expectJittered(seen.slice(0, 3), [1, 2, 3]);
    expect(seen[0].last_status_code).toBeNull();
    expect(seen[0].last_error).toMatch(/^connection:/);
  });

  it('caps backoff at MAX_RETRY_DELAY', async () => {
    const { task } = await enqueue(hook('status', 'code=500').url, 'x', { max_retries: '9' });
    const seen = await drive(task.id, 8);
    expectJittered(seen.slice(5, 8), [32, 64, 128]); // MAX_RETRY_DELAY=60 in tests
  });

  it('fails a task after max_retries failed retries', async () => {
    const h = hook('status', 'code=500');
    const { task } = await enqueue(h.url, 'x', { max_retries: '2' });
    const seen = await drive(task.id, 5);
    expect(seen.map((t) => t.status)).toEqual(['retry', 'retry', 'failed']);
    expect(seen[2]).toMatchObject({ attempts: 3, due_at: null, last_status_code: 500 });
    expect(ms(seen[2].expires_at) - ms(seen[2].updated_at)).toBe(Number(env.FAILED_TTL) * 1000);
    expect(await received(h.key)).toHaveLength(3);
  });

  it('fails at once on max_retries=0', async () => {
    const { task } = await enqueue(hook('status', 'code=503').url, 'x', { max_retries: '0' });
    expect((await drive(task.id, 3)).map((t) => t.status)).toEqual(['failed']);
  });

  it('fails at once on 410 Gone', async () => {
    const { task } = await enqueue(hook('status', 'code=410').url, 'x', { max_retries: '5' });
    expect((await drive(task.id, 3)).map((t) => t.status)).toEqual(['failed']);
  });

  it('honours Retry-After on 429 and 503, capped at MAX_RETRY_DELAY', async () => {
    const a = (await enqueue(hook('status', 'code=429&retry_after=30').url)).task;
    const b = (await enqueue(hook('status', 'code=503&retry_after=9999').url)).task;
    const c = (await enqueue(hook('status', 'code=500&retry_after=30').url)).task;
    await consume([a.id, b.id, c.id]);
    expect(backoffOf(await getTask(a.id))).toBe(30);
    expect(backoffOf(await getTask(b.id))).toBe(60);
    expect(backoffOf(await getTask(c.id))).toBe(1); // only 429/503 are honoured
  });

  it('enforces the timeout per attempt, as a network error', async () => {
    const h = hook('sleep', 'ms=5000');
    const { task } = await enqueue(h.url, 'x', { timeout: '1' });
    await consume([task.id]);
    const t = await getTask(task.id);
    expect(t).toMatchObject({ status: 'retry', last_status_code: null });
    expect(t.last_error).toMatch(/^timeout/);
    expect(backoffOf(t)).toBe(1);
  });

  it.each([
    [308, 'PUT', 'PUT', 'payload=1'],
    [303, 'PUT', 'GET', ''],
    [302, 'POST', 'GET', ''],
    [301, 'PATCH', 'PATCH', 'payload=1'],
  ])('follows a %i redirect: %s becomes %s, signed over what it then carries', async (code, method, expected, body) => {
    const target = hook('ok');
    const h = hook('redirect', `code=${code}&to=${encodeURIComponent(target.url)}`);
    const { task } = await enqueue(h.url, 'payload=1', { method });
    await consume([task.id]);
    expect((await getTask(task.id)).status).toBe('completed');
    const [got] = await received(target.key);
    expect(got.method).toBe(expected);
    const sent = Buffer.from(got.body, 'base64');
    expect(sent.toString()).toBe(body);
    expect(await verifyTorqueSignature(env.SIGNING_SECRET as string, got.headers, new Uint8Array(sent))).toBe(true);
  });

  it('follows redirects; 307 keeps the method and body', async () => {
    const target = hook('ok');
    const h = hook('redirect', `code=307&to=${encodeURIComponent(target.url)}`);
    const { task } = await enqueue(h.url, 'payload=1', { method: 'PUT' });
    await consume([task.id]);
    expect((await getTask(task.id)).status).toBe('completed');
    const [got] = await received(target.key);
    expect(got.method).toBe('PUT');
    expect(Buffer.from(got.body, 'base64').toString()).toBe('payload=1');
  });
});

describe('claiming', () => {
  it('calls a hook once for duplicate and stale messages', async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url);
    await consume([task.id, task.id, task.id]);
    await consume([task.id]); // redelivered after completion
    expect(await received(h.key)).toHaveLength(1);
    expect((await getTask(task.id)).attempts).toBe(1);
  });

  it('leaves an early message alone (the task stays pending for its due time)', async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url, 'x', { delay: '120' });
    const result = await consume([task.id]);
    expect(result.ackAll).toBe(true);
    expect(await received(h.key)).toHaveLength(0);
    expect((await getTask(task.id)).status).toBe('pending');
  });

  it('ignores messages for unknown tasks and malformed bodies', async () => {
    const ok = hook('ok');
    const { task } = await enqueue(ok.url);
    const bodies = [
      { app: 'default', ids: ['01DOESNOTEXIST'] }, // an id of no task
      { app: 'default', ids: ['01M0000000000000000000000Z'] }, // an id naming no database of this deployment
      null, 'text', { ids: [task.id] }, { app: 'default', ids: task.id }, { app: 'default', ids: [42, null] }, { app: 7, ids: [task.id] },
      { app: 'default', ids: [task.id] }, // and one good message among them
    ];
    const batch = createMessageBatch<TaskMessage>('torque-tasks', bodies.map((body, i) => ({ id: `bad${i}`, timestamp: new Date(), attempts: 1, body: body as TaskMessage })));
    const handed = recordingQueue();
    await handleQueue(batch, { ...env, ...handed.vars });
    expect((await getQueueResult(batch, createExecutionContext())).ackAll).toBe(true);
    expect(handed.sent).toEqual([]); // nothing handed back or re-sent for them
    expect(await received(ok.key)).toHaveLength(1); // the good one ran, once
    expect((await getTask(task.id)).status).toBe('completed');
  });

  it(`calls hooks concurrently, ${HOOK_CONCURRENCY} at a time (one connection stays free for D1 and the queue)`, async () => {
    const h = hook('sleep', 'ms=300');
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await enqueue(h.url)).task.id);
    await consume(ids);
    const got = await received(h.key);
    expect(got).toHaveLength(12);
    expect(Math.max(...got.map((r) => r.inflight))).toBe(HOOK_CONCURRENCY);
    for (const id of ids) expect((await getTask(id)).status).toBe('completed');
  });

  it('records finished attempts within about a second, before a slow batch ends', async () => {
    const fast = [];
    for (let i = 0; i < 3; i++) fast.push((await enqueue(hook('ok').url)).task.id);
    const slow = (await enqueue(hook('sleep', 'ms=3000').url)).task.id;
    const running = consume([slow, ...fast]);
    await new Promise((r) => setTimeout(r, 2000));
    for (const id of fast) expect((await getTask(id)).status).toBe('completed');
    expect((await getTask(slow)).status).toBe('in_progress');
    await running;
    expect((await getTask(slow)).status).toBe('completed');
  });

  it('leases a claimed task for its own timeout plus the grace (a claim starts at once)', async () => {
    const { task } = await enqueue(hook('sleep', 'ms=400').url, 'x', { timeout: '7' });
    const before = Date.now();
    const running = consume([task.id]);
    await new Promise((r) => setTimeout(r, 150));
    const row = await env.DB.prepare('SELECT status, due_at FROM tasks WHERE id = ?').bind(task.id).first<{ status: string; due_at: number }>();
    expect(row!.status).toBe('in_progress');
    const lease = (7 + Number(env.SWEEP_GRACE)) * 1000;
    expect(row!.due_at - before).toBeGreaterThanOrEqual(lease - 1000);
    expect(row!.due_at - before).toBeLessThanOrEqual(lease + 1000);
    await running;
  });

  it('does not start attempts that could outlive the invocation budget; hands them back', async () => {
    const h = hook('sleep', 'ms=10000');
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) ids.push((await enqueue(h.url, 'x', { timeout: '2' })).task.id);
    const long = (await enqueue(h.url, 'x', { timeout: '4' })).task.id;
    const handed = recordingQueue();
    await consume([long, ...ids], { CONSUMER_BUDGET: '3', MAX_TIMEOUT: '3', DEFAULT_TIMEOUT: '3', ...handed.vars });
    // `long` never fits the budget; the rest beyond the slots found none free in time.
    expect(handed.ids()).toHaveLength(1 + 9 - HOOK_CONCURRENCY);
    expect(handed.ids()).toContain(long);
    expect(await getTask(long)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await received(h.key)).toHaveLength(HOOK_CONCURRENCY);
    const tasks = await Promise.all(ids.map(getTask));
    expect(tasks.filter((t) => t.status === 'retry' && t.attempts === 1)).toHaveLength(HOOK_CONCURRENCY);
    const handedBack = tasks.filter((t) => t.status === 'pending');
    expect(handedBack).toHaveLength(9 - HOOK_CONCURRENCY);
    for (const t of handedBack) expect(t.attempts).toBe(0);
  });
});

describe('the call to the hook', () => {
  it('sends the Torque headers, passthrough headers and a verifiable signature', async () => {
    const h = hook('seq', 'codes=500,200');
    const { task } = await enqueue(h.url, '{"a":1}', { max_retries: '4' }, {
      'content-type': 'application/json',
      'torque-passthrough-x-tenant': 'acme',
    });
    await drive(task.id, 3);
    // By attempt number, not arrival order: the hook server logs a request when its body has been
    // read, which a busy machine may finish in either order.
    const calls = (await received(h.key)).sort((a, b) => Number(a.headers['torque-task-retry-count']) - Number(b.headers['torque-task-retry-count']));
    expect(calls).toHaveLength(2);
    const [first, second] = calls;
    expect(first.headers['user-agent']).toMatch(/^Torque\/\d/);
    expect(first.headers['torque-task-id']).toBe(task.id);
    expect(first.headers['torque-task-retry-count']).toBe('0');
    expect(second.headers['torque-task-retry-count']).toBe('1');
    expect(first.headers['torque-task-retry-limit']).toBe('4');
    expect(first.headers['x-tenant']).toBe('acme');
    expect(first.headers['webhook-id']).toBe(task.id);
    expect(second.headers['webhook-id']).toBe(task.id);
    const wh = new Webhook(env.SIGNING_SECRET!);
    for (const r of [first, second]) {
      const body = Buffer.from(r.body, 'base64').toString();
      expect(wh.verify(body, r.headers)).toEqual({ a: 1 });
      expect(() => wh.verify(body + ' ', r.headers)).toThrow();
    }
  });

  it('sends no body with GET', async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url, 'ignored', { method: 'GET' });
    await consume([task.id]);
    const [got] = await received(h.key);
    expect(got.method).toBe('GET');
    expect(got.body).toBe('');
  });

  it('reads at most 1 KiB of a huge response and completes', async () => {
    const { task } = await enqueue(hook('big').url);
    await consume([task.id]);
    expect((await getTask(task.id)).status).toBe('completed');
    const { attempts } = (await (await call(`/tasks/${task.id}/attempts`)).json()) as { attempts: any[] };
    expect(attempts[0].response).toHaveLength(1024);
  });

  it('keeps 1 KiB of a short compressed answer that unpacks to 512 KiB', async () => {
    const { task } = await enqueue(hook('gzip-bomb').url);
    await consume([task.id]);
    expect((await getTask(task.id)).status).toBe('completed');
    const { attempts } = (await (await call(`/tasks/${task.id}/attempts`)).json()) as { attempts: any[] };
    expect(attempts[0].response).toHaveLength(1024);
  });

  it('treats an endless slow-drip body as a timeout, not a stuck consumer', async () => {
    const { task } = await enqueue(hook('drip', 'every=300').url, 'x', { timeout: '1' });
    await consume([task.id]);
    expect((await getTask(task.id)).last_error).toMatch(/^timeout/);
  });

  it('treats a connection reset mid-answer as a network error of kind reset', async () => {
    const { task } = await enqueue(hook('reset').url);
    await consume([task.id]);
    const t = await getTask(task.id);
    expect(t.status).toBe('retry');
    expect(t.last_error).toMatch(/^reset: the connection dropped while the answer was being read/);
  });

  it.each([
    ['a refused connection (nothing listens)', 'http://127.0.0.1:9/x'],
    ['a hang-up before any answer', null],
    ['TLS spoken to a plain-HTTP server', 'tls'],
  ])('labels %s as kind connection (workerd does not tell these apart)', async (_, target) => {
    const url = target === null ? hook('hangup').url : target === 'tls' ? hook('ok').url.replace('http:', 'https:') : target;
    const { task } = await enqueue(url);
    await consume([task.id]);
    const t = await getTask(task.id);
    expect(t).toMatchObject({ status: 'retry', last_status_code: null });
    expect(t.last_error).toMatch(/^connection: no answer/);
  });
});

describe('attempt log', () => {
  it('records every attempt, oldest first', async () => {
    const h = hook('seq', 'codes=500,hangup,200');
    const { task } = await enqueue(h.url, 'x', { max_retries: '5' });
    await drive(task.id, 4);
    const res = await call(`/tasks/${task.id}/attempts`);
    const { attempts } = (await res.json()) as { attempts: any[] };
    expect(attempts.map((a) => a.number)).toEqual([1, 2, 3]);
    expect(attempts.map((a) => a.status_code)).toEqual([500, null, 200]);
    expect(attempts[0].response).toBe('call 1');
    expect(attempts[1].error).toMatch(/^connection:/);
    for (const a of attempts) expect(a.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it('stores no attempt row for a first-attempt success', async () => {
    const { task } = await enqueue(hook('ok').url);
    await consume([task.id]);
    const rows = await env.DB.prepare('SELECT count(*) AS n FROM attempts WHERE task_id = ?').bind(task.id).first('n');
    expect(rows).toBe(0);
    const { attempts } = (await (await call(`/tasks/${task.id}/attempts`)).json()) as { attempts: any[] };
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ number: 1, status_code: 200, response: 'ok' });
  });
});

describe('no head-of-line blocking', () => {
  it('slow hooks in every slot do not hold the fast tasks of their batch: those are handed back unclaimed and run elsewhere', async () => {
    const slow = hook('sleep', 'ms=4000');
    const fast = hook('ok');
    const slowIds: string[] = [];
    const fastIds: string[] = [];
    for (let i = 0; i < HOOK_CONCURRENCY; i++) slowIds.push((await enqueue(slow.url, 'x', { timeout: '10' })).task.id);
    for (let i = 0; i < 4; i++) fastIds.push((await enqueue(fast.url)).task.id);
    const handed = recordingQueue();
    const first = consume([...slowIds, ...fastIds], handed.vars);
    await new Promise((r) => setTimeout(r, 1500));
    // Nothing holds the fast tasks: they are not in_progress while nothing runs for them.
    for (const id of fastIds) expect((await getTask(id)).status).toBe('pending');
    // The platform gives the handed-back messages to another invocation; here, a second consume.
    const startedSecond = Date.now();
    await consume(fastIds);
    for (const id of fastIds) expect((await getTask(id)).status).toBe('completed');
    const calls = await received(fast.key);
    expect(calls).toHaveLength(4);
    for (const c of calls) expect(c.at).toBeGreaterThanOrEqual(startedSecond);
    // ...while the slow hooks were still running in the first invocation.
    for (const id of slowIds) expect((await getTask(id)).status).toBe('in_progress');
    const result = await first;
    expect(result.ackAll).toBe(true);
    expect(handed.ids().sort()).toEqual([...fastIds].sort()); // sent again, for another invocation
    for (const id of slowIds) expect((await getTask(id)).status).toBe('completed');
    expect(await received(fast.key)).toHaveLength(4); // and the hand-back called nobody twice
  });

  it('a task deleted while waiting for a slot is never called', async () => {
    const slow = hook('sleep', 'ms=800');
    const victim = hook('ok');
    const ids: string[] = [];
    for (let i = 0; i < HOOK_CONCURRENCY; i++) ids.push((await enqueue(slow.url)).task.id);
    const doomed = (await enqueue(victim.url)).task.id;
    const running = consume([...ids, doomed]);
    await new Promise((r) => setTimeout(r, 300));
    expect((await call(`/tasks/${doomed}`, { method: 'DELETE' })).status).toBe(204);
    await running;
    expect(await received(victim.key)).toEqual([]);
    expect((await call(`/tasks/${doomed}`)).status).toBe(404);
  });
});

describe('claiming ahead', () => {
  /** A batch whose first tasks answer at once (so the consumer learns its slots free fast) and whose next ones hold every slot. */
  async function warmThenBusy(slowMs: number, then: () => Promise<string[]>) {
    const fast = hook('ok');
    const slow = hook('sleep', `ms=${slowMs}`);
    const ids: string[] = [];
    for (let i = 0; i < 2 * HOOK_CONCURRENCY; i++) ids.push((await enqueue(fast.url)).task.id);
    for (let i = 0; i < HOOK_CONCURRENCY; i++) ids.push((await enqueue(slow.url, 'x', { timeout: '10' })).task.id);
    return [...ids, ...(await then())];
  }

  it('a task deleted after its claim, before its attempt starts, is not called after the DELETE answered', async () => {
    const victim = hook('ok');
    let doomed = '';
    const running = consume(await warmThenBusy(600, async () => [(doomed = (await enqueue(victim.url)).task.id)]));
    await claimed(doomed); // claimed ahead with the slow ones: it waits for a slot
    const res = await call(`/tasks/${doomed}`, { method: 'DELETE' });
    const answered = Date.now();
    expect(res.status).toBe(204);
    await running;
    // It may have started before the DELETE answered (then that attempt ran), never after.
    for (const c of await received(victim.key)) expect(c.at).toBeLessThan(answered);
    expect((await call(`/tasks/${doomed}`)).status).toBe(404);
  });

  it('claimed tasks that find no slot within a second go back to waiting and to the queue', async () => {
    const late = hook('ok');
    const extra: string[] = [];
    const handed = recordingQueue();
    const running = consume(await warmThenBusy(4000, async () => {
      for (let i = 0; i < 3; i++) extra.push((await enqueue(late.url)).task.id);
      return extra;
    }), handed.vars);
    await claimed(extra[0]);
    await new Promise((r) => setTimeout(r, 2000));
    // The slow hooks still hold every slot; what was claimed for them is waiting again, unattempted.
    for (const id of extra) expect(await getTask(id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(handed.ids()).toEqual(expect.arrayContaining(extra));
    await running;
    expect(await received(late.key)).toEqual([]);
    await expectCountsExact();
  });

  it('a claim that waited in a busy database line still starts its tasks (the window runs from when the database ran it)', async () => {
    const h = hook('ok');
    const { task } = await enqueue(h.url);
    // Every claim reaches the database 3 s after it was sent: longer than the start window.
    const slow = slowD1(is.claim, 3000);
    await consume([task.id], { DB: slow });
    expect(slow.slowed()).toBeGreaterThan(0); // the claim was among the statements slowed
    expect(await received(h.key)).toHaveLength(1);
    expect((await getTask(task.id)).status).toBe('completed');
  });

  it('one claim statement covers many tasks when hooks answer fast', async () => {
    const h = hook('ok');
    const items = Array.from({ length: 100 }, () => ({ url: h.url }));
    const res = await call('/batch', { method: 'POST', body: JSON.stringify(items), headers: { 'content-type': 'application/json' } });
    const ids = ((await res.json()) as { tasks: { id: string }[] }).tasks.map((t) => t.id);
    // Claim statements that ran, and the tasks they claimed (from their answers, not the SQL's text).
    const claims: number[] = [];
    const DB = claimCounting(claims);
    const handed = recordingQueue();
    await consume(ids, { DB, ...handed.vars });
    // Every task ran here, or (on a machine too busy to start it in time) went back to the queue.
    const ran = await received(h.key);
    expect(ran.length + handed.ids().length).toBe(100);
    expect(claims.reduce((a, b) => a + b, 0)).toBe(ran.length);
    // One claim per wave of free slots would claim HOOK_CONCURRENCY tasks each: claims are bigger.
    expect(claims.length).toBeGreaterThan(0);
    expect(ran.length / claims.length).toBeGreaterThan(HOOK_CONCURRENCY);
  });
});

describe('messages carry many ids', () => {
  it('a batch enqueue of 100 tasks sends one message; the consumer runs them all from it', async () => {
    const { sent, vars } = recordingQueue();
    const h = hook('ok');
    const items = Array.from({ length: 100 }, (_, i) => ({ url: h.url, body: `n=${i}` }));
    const res = await callWith(vars, '/batch', { method: 'POST', body: JSON.stringify(items), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(201);
    expect(sent).toHaveLength(1);
    expect(sent[0].body.ids).toHaveLength(100);
    const batch = createMessageBatch<TaskMessage>('torque-tasks', [{ id: 'one', timestamp: new Date(), attempts: 1, body: sent[0].body }]);
    await handleQueue(batch, env);
    expect((await getQueueResult(batch, createExecutionContext())).ackAll).toBe(true);
    expect(await received(h.key)).toHaveLength(100);
  });

  it(`takes on at most ${MAX_IDS_PER_INVOCATION} ids per invocation and sends the rest again`, async () => {
    const h = hook('ok');
    const ids: string[] = [];
    const items = Array.from({ length: 100 }, () => ({ url: h.url }));
    for (let i = 0; i < MAX_IDS_PER_INVOCATION / 100 + 1; i++) {
      const res = await call('/batch', { method: 'POST', body: JSON.stringify(items), headers: { 'content-type': 'application/json' } });
      ids.push(...((await res.json()) as { tasks: { id: string }[] }).tasks.map((t) => t.id));
    }
    const messages = Array.from({ length: ids.length / 100 }, (_, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body: { app: 'default', ids: ids.slice(i * 100, (i + 1) * 100) } }));
    const batch = createMessageBatch<TaskMessage>('torque-tasks', messages);
    const handed = recordingQueue();
    await handleQueue(batch, { ...env, ...handed.vars });
    expect((await getQueueResult(batch, createExecutionContext())).ackAll).toBe(true);
    expect(handed.ids()).toEqual(ids.slice(MAX_IDS_PER_INVOCATION));
    expect(await received(h.key)).toHaveLength(MAX_IDS_PER_INVOCATION);
  });
});
