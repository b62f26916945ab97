import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { inject } from 'vitest';
import app from '../src/http/app';
import { getConfig } from '../src/config';
import { openDb } from '../src/store';
import { countApps } from '../src/store/stats';
import { sweep } from '../src/sweep/sweep';
import { expect } from 'vitest';
import { handleQueue, type TaskMessage } from '../src/dispatch/consumer';
import type { Received } from './hook-server';

export const hookBase = () => inject('hookUrl');
let counter = 0;
/** A fresh hook URL: /h/<unique key>/<behaviour>, plus the key to read its log. */
export function hook(behaviour: string, query = ''): { url: string; key: string } {
  // Unique across test files running at once (they share one hook server).
  const key = `k${(counter++).toString(36)}${crypto.randomUUID().replaceAll('-', '')}`;
  return { url: `${hookBase()}/h/${key}/${behaviour}${query ? `?${query}` : ''}`, key };
}

export async function received(key: string): Promise<Received[]> {
  const res = await fetch(`${hookBase()}/__log/${key}`);
  return (await res.json()) as Received[];
}

/** A request through the deployed entry point (the worker's own fetch handler and bindings). */
export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`http://torque.test${path}`, init));
}

/** The same app with some vars changed (e.g. AUTHENTICATE on), on the same D1 and queue. */
export async function callWith(vars: Record<string, unknown>, path: string, init?: RequestInit, base = 'http://torque.test'): Promise<Response> {
  return app.fetch(new Request(`${base}${path}`, init), { ...env, ...vars }, createExecutionContext());
}

/** A response's JSON (awaiting the response too). */
export const json = async <T = any>(res: Response | Promise<Response>) => (await (await res).json()) as T;

/** A request with a JSON body, through the app with these vars (none: the deployed defaults). */
export const sendJson = (path: string, method: string, body?: unknown, vars: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  callWith(vars, path, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

export async function enqueue(url: string, body: BodyInit | null = 'x=1', params: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const qs = new URLSearchParams({ url, ...params });
  const res = await call(`/?${qs}`, { method: 'POST', body, headers });
  return { res, task: (await res.json()) as Record<string, any> };
}

/**
 * Runs the queue consumer on a batch naming these task ids, as the platform would. What it hands
 * back to run at once (a claimed task that could not start within its start window, as happens on
 * a busy machine) is delivered again, as the queue would, a few rounds at most; a test that
 * watches the queue itself (its own TASKS) sees every send instead. Answers the first batch's acks.
 */
export async function consume(ids: string[], vars: Record<string, unknown> = {}) {
  if ('TASKS' in vars) return consumeOnce(ids, vars);
  const q = recordingQueue();
  const result = await consumeOnce(ids, { ...vars, ...q.vars });
  for (let round = 0; round < 5; round++) {
    const again = [...new Set(q.ids())].filter((id) => ids.includes(id));
    q.sent.length = 0;
    if (again.length === 0) break;
    await consumeOnce(again, { ...vars, ...q.vars });
  }
  return result;
}

async function consumeOnce(ids: string[], vars: Record<string, unknown>) {
  // Messages name the task's app too; tests know ids, so the app is looked up (or `default`).
  const { results } = await env.DB.prepare('SELECT id, app_id FROM tasks WHERE id IN (SELECT value FROM json_each(?))')
    .bind(JSON.stringify(ids))
    .all<{ id: string; app_id: string }>();
  const appOf = new Map(results.map((r) => [r.id, r.app_id]));
  const batch = createMessageBatch<TaskMessage>(
    'torque-tasks',
    ids.map((id, i) => ({ id: `m${i}-${id}`, timestamp: new Date(), attempts: 1, body: { ids: [id], app: appOf.get(id) ?? 'default' } })),
  );
  const ctx = createExecutionContext();
  await handleQueue(batch, { ...env, ...vars } as Env);
  return getQueueResult(batch, ctx);
}

export async function getTask(id: string): Promise<Record<string, any>> {
  return (await call(`/tasks/${id}`)).json();
}

/** Polls `check` until it holds, failing after `ms` (a condition with a deadline, not a fixed sleep). */
export async function waitFor(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits until the consumer has claimed this task (it is in_progress). */
export const claimed = (id: string) =>
  waitFor(async () => (await env.DB.prepare('SELECT status FROM tasks WHERE id = ?').bind(id).first<{ status: string }>())?.status === 'in_progress', `task ${id} claimed`);

/** Makes a waiting task due now (a test shortcut for "time passes"). */
export async function makeDue(id: string) {
  await env.DB.prepare('UPDATE tasks SET due_at = ? WHERE id = ?').bind(Date.now() - 1, id).run();
}

/**
 * A sweep clock by which the sweeper's walk over new ids has passed every task made so far (it
 * takes each task SWEEP_WALK_LAG after its creation): the sweeper then knows them all.
 */
export const afterWalk = (extraMs = 0) => Date.now() + getConfig(env).SWEEP_WALK_LAG * 1000 + 1000 + extraMs;

/** What /stats counts (folded counters plus the live range) equals the rows, for every app. */
export async function expectCountsExact() {
  const { results } = await env.DB.prepare('SELECT app_id, status, count(*) n FROM tasks GROUP BY app_id, status').all<{ app_id: string; status: string; n: number }>();
  const { results: apps } = await env.DB.prepare('SELECT app_id FROM app_stats').all<{ app_id: string }>();
  for (const { app_id } of apps) {
    const counted = (await countApps(openDb(env.DB), app_id, Date.now()))[0].tasks;
    const actual = Object.fromEntries(['pending', 'in_progress', 'retry', 'completed', 'failed'].map((s) => [s, results.find((r) => r.app_id === app_id && r.status === s)?.n ?? 0]));
    expect(counted, app_id).toEqual(actual);
  }
}


/** Stored times move back by `ms`: for the tasks, that much time has passed. */
export async function timePasses(ms: number) {
  await env.DB.prepare(
    'UPDATE tasks SET due_at = due_at - ?1, wake_at = wake_at - ?1, updated_at = updated_at - ?1, created_at = created_at - ?1, completed_at = completed_at - ?1',
  ).bind(ms).run();
}

/**
 * Runs the sweeper as it will run once its walk has passed every task made so far, then lets the
 * tasks' time catch up with that clock, so the consumer (on the real clock) sees what it would.
 */
export async function sweepCaughtUp() {
  const at = afterWalk();
  const report = await sweep(env, at);
  await timePasses(at - Date.now());
  return report;
}

/** A queue binding that keeps what it is sent (to see what the consumer hands back). */
export function recordingQueue() {
  const sent: { body: TaskMessage; delaySeconds?: number }[] = [];
  const queue = {
    send: async (body: TaskMessage, o?: { delaySeconds?: number }) => void sent.push({ body, ...o }),
    sendBatch: async (m: Iterable<{ body: TaskMessage; delaySeconds?: number }>) => void sent.push(...m),
  } as unknown as Queue;
  /** Ids sent to run now (a hand-back), not later (a retry's re-send). */
  return { queue, vars: { TASKS: queue, TASKS_BULK: queue }, sent, ids: () => sent.filter((m) => !m.delaySeconds).flatMap((m) => m.body.ids) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Delivers `ids`, then every message the consumer sends, when due, until `done()` or `ms` pass.
 * While invocations run it waits on them rather than polling `done()`: the runtime runs the
 * consumer and these checks on one thread, so polling would slow what it waits for.
 */
export async function playQueue(ids: string[], done: () => Promise<boolean>, ms: number, vars: Record<string, unknown> = {}) {
  const q = recordingQueue();
  const pending: { at: number; ids: string[] }[] = [{ at: 0, ids }];
  const running = new Set<Promise<unknown>>();
  let seen = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const m of q.sent.slice(seen)) pending.push({ at: Date.now() + (m.delaySeconds ?? 0) * 1000, ids: m.body.ids });
    seen = q.sent.length;
    const ready = pending.filter((p) => p.at <= Date.now());
    pending.splice(0, pending.length, ...pending.filter((p) => p.at > Date.now()));
    // Up to 8 invocations at once, each with up to 100 ids.
    for (let i = 0; i < ready.length && running.size < 8; i++) {
      const batch = ready.splice(i--, 1).flatMap((r) => r.ids);
      const p: Promise<unknown> = consume(batch, { ...vars, ...q.vars }).finally(() => running.delete(p));
      running.add(p);
    }
    pending.push(...ready);
    if (running.size) await Promise.race([...running, sleep(250)]);
    else if (await done()) return;
    else await sleep(50);
  }
  await Promise.all(running);
}

/** Whether every one of `ids` (in env.DB) is completed: one query (a check per id would compete with the consumer). */
export const allCompleted = (ids: string[]) => async () =>
  (await env.DB.prepare("SELECT count(*) AS n FROM tasks WHERE status = 'completed' AND id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(ids)).first<number>('n')) === new Set(ids).size;
