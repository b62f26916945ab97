import { Hono, type Context } from 'hono';
import { QSTASH_LABEL, QSTASH_MARK, QSTASH_RETRY_DELAY, shownHeaders } from '../../hook/qstash';
import type { TaskStatus } from '../../store/schema';
import type { ListedTask } from '../../store/tasks';
import { deleteTask, deleteTasks, deleteTasksByIds, getTask, listTasks } from '../../tasks/app-tasks';
import { replay, replayMany } from '../../tasks/replay';
import { apiError, notFound } from '../errors';
import { rateLimit } from '../middleware';
import { scope } from '../scope';
import type { AppEnv } from '../types';

// Messages and the DLQ. A message is a task (its id is the message id); the DLQ is the app's
// failed tasks (the DLQ id is the task id too, and a retried DLQ message keeps it).

const stored = (t: Pick<ListedTask, 'headers'>) => (t.headers ? (JSON.parse(t.headers) as Record<string, string>) : {});

/** A task as QStash's Message (times in unix ms). */
function messageJson(t: ListedTask) {
  const h = stored(t);
  const header = shownHeaders(h, t.contentType);
  return {
    messageId: t.id, url: t.url, method: t.method, header, maxRetries: t.maxRetries,
    // A finished task's due_at holds its expiry, not when it was due: its original time is not kept,
    // so it reads as its creation (a delayed message that finished shows no delay).
    notBefore: t.status === 'completed' || t.status === 'failed' ? t.createdAt : t.dueAt, createdAt: t.createdAt,
    ...(t.callbackUrl ? { callback: t.callbackUrl } : {}), ...(t.failureCallbackUrl ? { failureCallback: t.failureCallbackUrl } : {}),
    ...(h['upstash-topic-name'] ? { topicName: h['upstash-topic-name'] } : {}),
    ...(t.scheduleId || h['upstash-schedule-id'] ? { scheduleId: t.scheduleId ?? h['upstash-schedule-id'] } : {}),
    ...(t.flowKey ? { flowControlKey: t.flowKey } : {}), callerIP: '',
    ...(h[QSTASH_LABEL] ? { label: h[QSTASH_LABEL] } : {}),
    ...(h[QSTASH_RETRY_DELAY] ? { retryDelayExpression: h[QSTASH_RETRY_DELAY] } : {}),
    // Torque's own view, for the curious: where the task is now.
    torque: { status: t.status, attempts: t.attempts, qstash: QSTASH_MARK in h },
  };
}

const dlqJson = (t: ListedTask) => ({
  ...messageJson(t), dlqId: t.id,
  responseStatus: t.lastStatusCode, // null: no HTTP answer (responseError says why)
  ...(t.lastResponse != null ? { responseBody: t.lastResponse } : {}),
  ...(t.lastError != null ? { responseError: t.lastError } : {}),
});

// Ids one bulk call takes (each costs a few D1 queries, of the 1,000 a request may send).
const MAX_IDS = 100;
// Ids come as repeated parameters (messageIds=a&messageIds=b, as the SDKs send them) or comma-separated
// (messageIds=a,b): no id holds a comma, so either form names the same ids.
const idsOf = (c: Context<AppEnv>, name: string) => {
  const ids = c.req.queries(name)?.flatMap((v) => v.split(',')).filter(Boolean);
  if (ids && ids.length > MAX_IDS) throw apiError(400, 'invalid_request', `${name}: at most ${MAX_IDS} ids a call, got ${ids.length}`);
  return ids;
};

const count = (c: Context<AppEnv>) => {
  const v = c.req.query('count');
  if (v === undefined) return 100;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 1000) throw apiError(400, 'invalid_request', 'count: must be a whole number from 1 to 1000');
  return Number(v);
};

// Bulk filters QStash has and Torque cannot apply (it keeps no index on them): refused by name,
// so that a filtered call never acts on more than it named.
const FILTERS = ['url', 'topicName', 'label', 'flowControlKey', 'scheduleId', 'queueName', 'api', 'fromDate', 'toDate', 'callerIp', 'host', 'path', 'responseStatus', 'messageId', 'state'];
/**
 * A bulk call acts on the ids it names or, naming none, on all (as the SDKs' `{ all: true }` sends
 * it): so anything else in it is refused, never ignored. A filter Torque cannot apply is a 501, any
 * other parameter (a typo such as `dlqId`) a 400, and a body (ids belong in the query string) a 400.
 */
async function refuseFilters(c: Context<AppEnv>, ids: string) {
  const given = FILTERS.filter((f) => c.req.queries(f) !== undefined);
  if (given.length) throw apiError(501, 'not_implemented', `filter ${given.join(', ')}: Torque filters bulk actions by ids or takes all; list ids first (GET /v2/dlq) and pass them`);
  const unknown = [...new Set(new URL(c.req.url).searchParams.keys())].filter((k) => ![ids, 'count', 'cursor'].includes(k));
  if (unknown.length) throw apiError(400, 'invalid_request', `unknown query parameter${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (this call takes ${ids}, count, cursor)`);
  if ((await c.req.arrayBuffer()).byteLength > 0) throw apiError(400, 'invalid_request', `body: this call takes no body; name ids in the query string (${ids}=...)`);
}

/**
 * A bulk call naming no ids acts on all only when it says so with `count` (what the SDKs send for
 * `{ all: true }`): a bare call, or a normalised path (`DELETE /v2/messages/..` arrives as
 * `DELETE /v2/messages`), never empties a queue.
 */
function requireAll(c: Context<AppEnv>, ids: string) {
  if (c.req.query('count') === undefined) {
    throw apiError(400, 'invalid_request', `name the messages (${ids}=...), or act on all of them with count=N (the SDKs' { all: true }); a call naming neither does nothing`);
  }
}

/** Deletes every task of these statuses (as far as one request's budget goes: call again while `cursor` is set). */
async function deleteAll(c: Context<AppEnv>, statuses: TaskStatus[], cursor?: string) {
  let total = 0;
  let next: string | null = null;
  for (const status of statuses) {
    const r = await deleteTasks(c.get('shards'), c.get('appId'), { status, before: cursor });
    total += r.total;
    if (r.next && (!next || r.next > next)) next = r.next;
  }
  return { total, next };
}

// Mounted at /v2/messages and /v2/dlq.
export const messagesApp = new Hono<AppEnv>()
  .get('/:id', async (c) => {
    const t = await getTask(c.get('shards'), c.get('appId'), c.req.param('id'));
    if (!t) throw notFound('message', c.req.param('id'));
    return c.json(messageJson(t));
  })
  .delete('/:id', async (c) => {
    if (!(await deleteTask(c.get('shards'), c.get('appId'), c.req.param('id')))) throw notFound('message', c.req.param('id'));
    return c.json({ cancelled: 1 });
  })
  .delete('/', async (c) => {
    await refuseFilters(c, 'messageIds');
    const ids = idsOf(c, 'messageIds');
    if (ids) return c.json({ cancelled: await deleteTasksByIds(c.get('shards'), c.get('appId'), ids) });
    // No ids and no filter, and said so: every message not yet delivered (waiting or waiting to retry).
    requireAll(c, 'messageIds');
    const { total } = await deleteAll(c, ['pending', 'retry']);
    return c.json({ cancelled: total });
  });

export const dlqApp = new Hono<AppEnv>()
  .get('/', async (c) => {
    const ids = idsOf(c, 'dlqIds');
    await refuseFilters(c, 'dlqIds');
    if (ids) {
      const found = await Promise.all(ids.map((id) => getTask(c.get('shards'), c.get('appId'), id)));
      return c.json({ messages: found.filter((t) => t?.status === 'failed').map((t) => dlqJson(t!)) });
    }
    const { tasks, next } = await listTasks(c.get('shards'), c.get('appId'), { status: 'failed', before: c.req.query('cursor') || undefined, limit: count(c) });
    return c.json({ messages: tasks.map(dlqJson), ...(next ? { cursor: next } : {}) });
  })
  .get('/:id', async (c) => {
    const t = await getTask(c.get('shards'), c.get('appId'), c.req.param('id'));
    if (t?.status !== 'failed') throw notFound('DLQ message', c.req.param('id'));
    return c.json(dlqJson(t));
  })
  .delete('/:id', async (c) => {
    const id = c.req.param('id');
    // Only a failed task is in the DLQ; the delete itself checks it (a replay may land meanwhile).
    if (!(await deleteTask(c.get('shards'), c.get('appId'), id, 'failed'))) throw notFound('DLQ message', id);
    return c.json({ deleted: 1 });
  })
  .delete('/', async (c) => {
    await refuseFilters(c, 'dlqIds');
    const ids = idsOf(c, 'dlqIds');
    if (ids) return c.json({ deleted: await deleteTasksByIds(c.get('shards'), c.get('appId'), ids, 'failed') });
    requireAll(c, 'dlqIds');
    const { total, next } = await deleteAll(c, ['failed'], c.req.query('cursor') || undefined);
    return c.json({ deleted: total, ...(next ? { cursor: next } : {}) });
  })
  // Replays start deliveries: rate-limited, as the native POST /tasks/retry.
  .post('/retry', rateLimit, async (c) => {
    await refuseFilters(c, 'dlqIds');
    const ids = idsOf(c, 'dlqIds');
    const now = Date.now();
    if (ids) {
      const retried = await Promise.all(ids.map(async (id) => {
        if ((await getTask(c.get('shards'), c.get('appId'), id))?.status !== 'failed') return false;
        const done = await replay(scope(c), id, now);
        return Boolean(done && done !== 'busy');
      }));
      return c.json({ responses: ids.filter((_, i) => retried[i]).map((id) => ({ messageId: id })) });
    }
    requireAll(c, 'dlqIds');
    const { replayed, next } = await replayMany(scope(c), { status: 'failed', before: c.req.query('cursor') || undefined, now });
    return c.json({ responses: replayed.map((r) => ({ messageId: r.id })), ...(next ? { cursor: next } : {}) });
  });
