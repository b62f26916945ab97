import type { Context } from 'hono';
import type { NewTaskRow, TaskRow } from './db/schema';
import { insertTasks } from './db/batch';
import { replayTask } from './db/claim';
import { DAY_MS } from './db/sweep';
import { apiError } from './errors';
import { headerProblem, passthroughProblem } from './hook/headers';
import { hostRefusal } from './hook/hosts';
import { newId } from './ids';
import { nudge } from './send';
import type { AppEnv } from './types';

export interface TaskInput {
  url: string;
  method?: string;
  timeout?: number;
  delay?: number;
  max_retries?: number;
  headers?: Record<string, string>;
  body: Uint8Array | null;
  contentType: string | null;
  idempotencyKey?: string;
}

/**
 * A task due soon needs no sweeper index entry (the sweeper's walk over new ids checks it); one due
 * later than that walk is tracked from the start: looked at a minute before it is due when that is
 * beyond Queues' 24 h delay (its message goes then), else SWEEP_GRACE after it is due.
 */
function trackDelayed(due: number, now: number, graceMs: number, lagMs: number): number | null {
  if (due - now > DAY_MS) return due - 60_000;
  return due - now > lagMs ? due + graceMs : null;
}

/** Builds the row for a validated task, applying config defaults and limits. */
export function buildTask(c: Context<AppEnv>, input: TaskInput, now: number, field = ''): NewTaskRow {
  const cfg = c.var.config;
  const timeout = input.timeout ?? cfg.DEFAULT_TIMEOUT;
  if (timeout > cfg.MAX_TIMEOUT) throw apiError(400, 'invalid_request', `${field}timeout: must be at most ${cfg.MAX_TIMEOUT}`);
  const refusal = hostRefusal(input.url, cfg);
  if (refusal) throw apiError(400, 'invalid_request', `${field}url: ${refusal}`);
  if (input.body && input.body.length > cfg.MAX_BODY_BYTES) {
    throw apiError(413, 'body_too_large', `${field}body: larger than ${cfg.MAX_BODY_BYTES} bytes`);
  }
  // Every header is checked here exactly as the runtime will check it at call time, so a task that
  // could never be sent is refused now instead of failing (or worse) in the consumer.
  const bad = passthroughProblem(input.headers ?? {});
  if (bad) throw apiError(400, 'invalid_request', `${field}headers${bad[0] ? `.${bad[0]}` : ''}: ${bad[1]}`);
  const typeProblem = input.contentType === null ? null : headerProblem('content-type', input.contentType);
  if (typeProblem) throw apiError(400, 'invalid_request', `${field}content-type: ${typeProblem}`);
  const headers = input.headers && Object.keys(input.headers).length ? JSON.stringify(input.headers) : null;
  return {
    id: newId(now),
    appId: c.var.app,
    url: input.url,
    method: input.method ?? 'POST',
    headers,
    body: input.body ? Buffer.from(input.body) : null,
    contentType: input.contentType,
    status: 'pending',
    attempts: 0,
    maxRetries: input.max_retries ?? cfg.MAX_RETRIES,
    timeout,
    createdAt: now,
    updatedAt: now,
    dueAt: now + (input.delay ?? 0) * 1000,
    wakeAt: trackDelayed(now + (input.delay ?? 0) * 1000, now, cfg.SWEEP_GRACE * 1000, cfg.SWEEP_WALK_LAG * 1000),
    idempotencyKey: input.idempotencyKey ?? null,
  };
}

/**
 * Stores tasks (one statement), then nudges the queue about the ones created. D1 is the truth: if
 * the send fails the tasks are still accepted, and the sweeper sends them once overdue by
 * SWEEP_GRACE. Used by `POST /` (one row) and `POST /batch`.
 */
export async function enqueue(c: Context<AppEnv>, rows: NewTaskRow[]): Promise<{ task: TaskRow; created: boolean }[]> {
  const results = await insertTasks(c.var.db, rows);
  const created = results.filter((r) => r.created).map((r) => ({ app: r.task.appId, id: r.task.id, dueAt: r.task.dueAt }));
  await nudge(c.env, created);
  return results;
}

/** Makes a task due now and nudges the queue (see replayTask); used by the API and the dashboard. */
export async function replay(c: Context<AppEnv>, id: string, now = Date.now()) {
  const task = await replayTask(c.var.db, c.var.app, id, now, c.var.config.SWEEP_GRACE * 1000);
  if (task && task !== 'busy') {
    await nudge(c.env, [{ app: task.appId, id: task.id, dueAt: task.dueAt }], now);
  }
  return task;
}
