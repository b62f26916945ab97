import type { Config } from '../config';
import type { NewTaskRow, TaskRow } from '../store/schema';
import { insertTasks } from '../store/batch';
import { replayTask } from '../store/claim';
import { waitingWake } from '../store/watch';
import { headerProblem, passthroughProblem } from '../hook/headers';
import { hostRefusal } from '../hook/hosts';
import { newId } from '../ids';
import { nudge } from './nudge';
import type { DB } from '../store';

/** A task that cannot be accepted as given: the edge answers it as a 4xx naming the field. */
export class TaskInputError extends Error {
  override name = 'TaskInputError';
  constructor(readonly field: string, message: string, readonly tooLarge = false) {
    super(`${field}: ${message}`);
  }
}

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
  return due - now > lagMs ? waitingWake(due, now, graceMs) : null;
}

/** Builds the row for a validated task, applying config defaults and limits. */
export function buildTask(cfg: Config, appId: string, input: TaskInput, now: number, field = ''): NewTaskRow {
  const timeout = input.timeout ?? cfg.DEFAULT_TIMEOUT;
  if (timeout > cfg.MAX_TIMEOUT) throw new TaskInputError(`${field}timeout`, `must be at most ${cfg.MAX_TIMEOUT}`);
  const refusal = hostRefusal(input.url, cfg);
  if (refusal) throw new TaskInputError(`${field}url`, refusal);
  if (input.body && input.body.length > cfg.MAX_BODY_BYTES) {
    throw new TaskInputError(`${field}body`, `larger than ${cfg.MAX_BODY_BYTES} bytes`, true);
  }
  // Every header is checked here exactly as the runtime will check it at call time, so a task that
  // could never be sent is refused now instead of failing (or worse) in the consumer.
  const bad = passthroughProblem(input.headers ?? {});
  if (bad) throw new TaskInputError(`${field}headers${bad[0] ? `.${bad[0]}` : ''}`, bad[1]);
  const typeProblem = input.contentType === null ? null : headerProblem('content-type', input.contentType);
  if (typeProblem) throw new TaskInputError(`${field}content-type`, typeProblem);
  const headers = input.headers && Object.keys(input.headers).length ? JSON.stringify(input.headers) : null;
  return {
    id: newId(now),
    appId,
    url: input.url,
    method: input.method ?? 'POST',
    headers,
    // A view of the request's bytes, not a copy (a body may be 1 MiB).
    body: input.body ? Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength) : null,
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
export async function enqueue(db: DB, env: Env, rows: NewTaskRow[]): Promise<{ task: TaskRow; created: boolean }[]> {
  const results = await insertTasks(db, rows);
  const created = results.filter((r) => r.created).map((r) => ({ app: r.task.appId, id: r.task.id, dueAt: r.task.dueAt }));
  await nudge(env, created);
  return results;
}

/** Makes a task due now and nudges the queue (see replayTask); used by the API and the dashboard. */
export async function replay(db: DB, env: Env, cfg: Config, appId: string, id: string, now = Date.now()) {
  const task = await replayTask(db, appId, id, now, cfg.SWEEP_GRACE * 1000);
  if (task && task !== 'busy') await nudge(env, [{ app: task.appId, id: task.id, dueAt: task.dueAt }], now);
  return task;
}
