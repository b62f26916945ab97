import type { Config } from '../config';
import type { NewTaskRow, TaskRow } from '../store/schema';
import { findByKeys, insertTasks } from '../store/batch';
import { replayTask } from '../store/claim';
import type { Shards } from '../store/shards';
import { waitingWake } from '../store/watch';
import { headerProblem, passthroughProblem } from '../hook/headers';
import { hostRefusal } from '../hook/hosts';
import { newId } from '../ids';
import { nudge } from './nudge';

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
  flowKey?: string;
  /** URLs told of the outcome (see tasks/callbacks.ts). */
  callback?: string;
  failureCallback?: string;
}

/**
 * A task due soon needs no sweeper index entry (the sweeper's walk over new ids checks it); one due
 * later than that walk is tracked from the start: looked at a minute before it is due when that is
 * beyond Queues' 24 h delay (its message goes then), else SWEEP_GRACE after it is due.
 */
function trackDelayed(due: number, now: number, graceMs: number, lagMs: number): number | null {
  return due - now > lagMs ? waitingWake(due, now, graceMs) : null;
}

/** Builds the row for a validated task, applying config defaults and limits (its id comes with its database). */
export function buildTask(cfg: Config, appId: string, input: TaskInput, now: number, field = ''): Omit<NewTaskRow, 'id'> {
  const timeout = input.timeout ?? cfg.DEFAULT_TIMEOUT;
  if (timeout > cfg.MAX_TIMEOUT) throw new TaskInputError(`${field}timeout`, `must be at most ${cfg.MAX_TIMEOUT}`);
  for (const [name, url] of [['url', input.url], ['callback', input.callback], ['failure_callback', input.failureCallback]] as const) {
    const refusal = url === undefined ? null : hostRefusal(url, cfg);
    if (refusal) throw new TaskInputError(`${field}${name}`, refusal);
  }
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
    flowKey: input.flowKey ?? null,
    callbackUrl: input.callback ?? null,
    failureCallbackUrl: input.failureCallback ?? null,
  };
}

/**
 * Stores tasks (one statement, in one database), then nudges the queue about the ones created. D1
 * is the truth: if the send fails the tasks are still accepted, and the sweeper sends them once
 * overdue by SWEEP_GRACE. Used by `POST /` (one row) and `POST /batch`.
 *
 * An idempotency key is looked for in every other database first (a key may have been routed
 * elsewhere before a database was added), and a keyed task goes to its key's database, where
 * concurrent requests with the same key meet the unique index.
 */
export async function enqueue(shards: Shards, env: Env, built: Omit<NewTaskRow, 'id'>[]): Promise<{ task: TaskRow; created: boolean }[]> {
  const app = built[0].appId;
  const keys = built.flatMap((r) => (r.idempotencyKey ? [r.idempotencyKey] : []));
  const shard = keys.length ? shards.forKey(app, keys[0]) : shards.pick();
  const elsewhere = new Map<string, TaskRow>();
  if (keys.length && shards.all.length > 1) {
    // A database that cannot answer is skipped (logged): it can only hold keys made before the
    // databases changed, and one database down must not stop keyed enqueues to the others.
    const others = shards.all.filter((s) => s !== shard);
    const found = await Promise.allSettled(others.map((s) => findByKeys(s.db, app, keys)));
    found.forEach((r, i) => {
      if (r.status === 'fulfilled') for (const t of r.value) elsewhere.set(t.idempotencyKey!, t);
      else console.error(`idempotency lookup in ${others[i].binding} failed; going on without it`, r.reason);
    });
  }
  const rows = built.filter((r) => !elsewhere.has(r.idempotencyKey ?? '')).map((r) => ({ ...r, id: newId(r.createdAt, shard.n) }));
  const stored = rows.length ? await insertTasks(shard, rows) : [];
  const created = stored.filter((r) => r.created).map((r) => ({ app: r.task.appId, id: r.task.id, dueAt: r.task.dueAt }));
  await nudge(env, created);
  let next = 0;
  return built.map((r) => {
    const other = elsewhere.get(r.idempotencyKey ?? '');
    return other ? { task: other, created: false } : stored[next++];
  });
}

/** Makes a task due now and nudges the queue (see replayTask); used by the API and the dashboard. */
export async function replay(shards: Shards, env: Env, cfg: Config, appId: string, id: string, now = Date.now()) {
  const shard = shards.of(id);
  const task = shard && (await replayTask(shard.db, appId, id, now, cfg.SWEEP_GRACE * 1000));
  if (task && task !== 'busy') await nudge(env, [{ app: task.appId, id: task.id, dueAt: task.dueAt }], now);
  return task;
}
