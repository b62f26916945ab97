import { z } from '@hono/zod-openapi';
import { apiError } from '../errors';
import { limitBody } from '../middleware';
import { keyUsedJson, KeyUsedSchema } from '../enqueued';
import { CallbackBodySchema, errorResponses, jsonResponse, rateLimited, StatusSchema, TaskSchema, taskJson } from '../schemas';
import { DELETE_MAX } from '../../store/tasks';
import { deleteTasks } from '../../tasks/app-tasks';
import { buildTask, enqueue, type TaskInput } from '../../tasks/enqueue';
import type { RetryPolicyInput } from '../../tasks/retry-policy';
import { resource } from '../resource';
import { scope } from '../scope';
import { cursorParam, flowKey, hookUrl, taskOptions, type ApiLimits } from './params';

const PASSTHROUGH = 'torque-passthrough-';

/**
 * `Torque-Passthrough-<Name>: v` headers become `<Name>: v` on the hook call (checked by buildTask).
 * Read from the record the header validator already built (walking a request's Headers again
 * costs a crossing into the runtime per header).
 */
function passthroughHeaders(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) if (name.startsWith(PASSTHROUGH)) out[name.slice(PASSTHROUGH.length)] = String(headers[name]);
  return out;
}

const created = {
  content: { 'application/json': { schema: TaskSchema } },
  headers: z.object({ Location: z.string() }),
};

/** Headers that carry task options (POST / and topic publishes); the others are kept for passthroughHeaders. */
export const taskHeaders = z.looseObject({
  'idempotency-key': z.string().min(1).max(256).optional().openapi({ description: 'deduplicates enqueues per app, for IDEMPOTENCY_TTL after the first and while its task exists' }),
  'torque-flow-key': flowKey.optional().openapi({ description: 'the same as the flow_key parameter' }),
  'torque-callback': hookUrl.optional().openapi({ description: 'the same as the callback parameter' }),
  'torque-failure-callback': hookUrl.optional().openapi({ description: 'the same as the failure_callback parameter' }),
});

type Options = Partial<Record<'method' | 'flow_key' | 'callback' | 'failure_callback', string>>
  & Partial<Record<'timeout' | 'delay' | 'not_before' | 'max_retries' | 'retry_min_delay' | 'retry_max_delay', number>>
  & { retry_backoff?: RetryPolicyInput['backoff'] };

/** A request's retry policy fields, as the domain takes them. */
export const retryInput = (q: Pick<Options, 'retry_backoff' | 'retry_min_delay' | 'retry_max_delay'>): RetryPolicyInput =>
  ({ backoff: q.retry_backoff, min: q.retry_min_delay, max: q.retry_max_delay });

/** What a request asks of its task(s), apart from the URL: options, passthrough headers, the body. */
export async function requestedTask(req: Request, q: Options, h: z.infer<typeof taskHeaders>): Promise<Omit<TaskInput, 'url'>> {
  const raw = new Uint8Array(await req.arrayBuffer());
  return {
    method: q.method, timeout: q.timeout, delay: q.delay, notBefore: q.not_before, max_retries: q.max_retries, retry: retryInput(q),
    headers: passthroughHeaders(h),
    body: raw.length ? raw : null,
    contentType: req.headers.get('content-type') ?? 'application/x-www-form-urlencoded',
    idempotencyKey: h['idempotency-key'],
    flowKey: pick('flow_key', q.flow_key, h['torque-flow-key']),
    callback: pick('callback', q.callback, h['torque-callback']),
    failureCallback: pick('failure_callback', q.failure_callback, h['torque-failure-callback']),
  };
}

// The root resource, at / (app.ts): POST enqueues a task, DELETE deletes tasks by status; with an API key.
const root = resource('apiKey');

const enqueueRoute = (limits: ApiLimits) => root.route({
  method: 'post',
  path: '/',
  summary: 'Enqueue a task; the request body is the task data, stored byte for byte',
  middleware: [limitBody()] as const,
  request: {
    query: z.object(taskOptions(limits)),
    headers: taskHeaders,
    body: {
      required: false,
      description: 'any bytes; its Content-Type (default application/x-www-form-urlencoded) is sent to the hook',
      content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } },
    },
  },
  responses: {
    201: { description: 'task created', ...created },
    200: { description: 'a task with this Idempotency-Key exists; it is returned and nothing is created', ...created },
    409: { description: 'idempotency_key_used: the key made a task within IDEMPOTENCY_TTL that no longer exists; nothing is created (the error names the task)', content: { 'application/json': { schema: KeyUsedSchema } } },
    ...errorResponses,
    ...rateLimited,
    413: { description: 'body larger than MAX_BODY_BYTES', content: errorResponses[400].content },
  },
});

/** A value given as a parameter or as a header: once is enough, twice must agree. */
function pick(field: string, param: string | undefined, header: string | undefined): string | undefined {
  if (param !== undefined && header !== undefined && param !== header) throw apiError(400, 'invalid_request', `${field}: given as a parameter and a header with different values`);
  return param ?? header;
}

const deleteAllRoute = root.route({
  method: 'delete',
  path: '/',
  summary: `Delete the caller's tasks of one status (status=...) or all of them (all=true), up to ${DELETE_MAX} per call: call again with cursor=next_cursor until next_cursor is null`,
  description: 'A bare DELETE / (neither status nor all) is refused with 400: a path a client or the runtime normalised (DELETE /flows/.. arrives as DELETE /) or a typo must never empty a queue.',
  request: {
    query: z.object({
      status: StatusSchema.optional().openapi({ description: 'delete only the tasks of this status' }),
      all: z.literal('true', { error: 'must be true (or leave it out and give status=)' }).optional().openapi({ description: 'true: delete every task (required when no status is given)' }),
      cursor: cursorParam,
    }),
  },
  responses: {
    200: jsonResponse(z.object({ deleted: z.number().int(), next_cursor: z.string().nullable() }), 'how many were deleted, and where to go on from (null: done)'),
    ...errorResponses,
  },
});

export const rootApp = (limits: ApiLimits) => {
  const api = root.app()
    .openapi(enqueueRoute(limits), async (c) => {
      const q = c.req.valid('query');
      const input = await requestedTask(c.req.raw, q, c.req.valid('header'));
      const s = scope(c);
      const row = buildTask(s, { ...input, url: q.url }, { now: Date.now() });
      const [done] = await enqueue(s, [row]);
      if ('gone' in done) return c.json(keyUsedJson(done.gone), 409);
      c.header('Location', `/tasks/${done.task.id}`);
      return c.json(taskJson(done.task), done.created ? 201 : 200);
    })
    .openapi(deleteAllRoute, async (c) => {
      const { status, all, cursor } = c.req.valid('query');
      if (!status && !all) throw apiError(400, 'invalid_request', 'DELETE / names no tasks: send DELETE /?all=true to delete every task, or DELETE /?status=<status> for those of one status');
      const { total, next } = await deleteTasks(c.get('shards'), c.get('appId'), { status, before: cursor });
      return c.json({ deleted: total, next_cursor: next }, 200);
    });
  // Documents what callbacks receive (no route returns it: Torque sends it).
  api.openAPIRegistry.register('CallbackBody', CallbackBodySchema);
  return api;
};
