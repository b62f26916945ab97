import { z } from '@hono/zod-openapi';
import { EnqueuedSchema, enqueuedJson } from '../enqueued';
import { errorResponses, jsonOnly, rateLimited } from '../schemas';
import { buildTask, enqueue, type TaskInput } from '../../tasks/enqueue';
import { limitBody } from '../middleware';
import { resource } from '../resource';
import { scope } from '../scope';
import { retryInput } from './enqueue';
import { BatchItem, taskFields, type ApiLimits } from './params';

export const MAX_BATCH = 100;

// Mounted at /batch (app.ts); called with an API key, rate-limited (its 429).
const { app, route } = resource('apiKey');

const batchRoute = (limits: ApiLimits) => route({
  method: 'post',
  path: '/',
  summary: `Enqueue 1..${MAX_BATCH} tasks at once; validated all-or-nothing`,
  middleware: [limitBody(true)] as const,
  request: {
    body: {
      required: true,
      content: { 'application/json': { schema: z.array(BatchItem(limits)).min(1, `must hold 1 to ${MAX_BATCH} tasks`).max(MAX_BATCH, `must hold 1 to ${MAX_BATCH} tasks`) } },
    },
  },
  responses: {
    201: { description: 'the tasks, in request order (an item whose Idempotency-Key made a task that is gone is a GoneTask)', content: { 'application/json': { schema: z.object({ tasks: z.array(EnqueuedSchema) }) } } },
    ...errorResponses,
    ...rateLimited,
    ...jsonOnly,
  },
});


/** A JSON-described task's request: its Content-Type header is the body's type, the rest pass through. */
export function itemInput(item: Pick<z.infer<ReturnType<typeof taskFields>>, 'url' | 'method' | 'headers' | 'body' | 'body_base64' | 'timeout' | 'max_retries' | 'flow_key'>
  & Partial<Pick<z.infer<ReturnType<typeof taskFields>>, 'delay' | 'not_before' | 'retry_backoff' | 'retry_min_delay' | 'retry_max_delay'>>): TaskInput {
  const headers: Record<string, string> = {};
  let contentType: string | null = null;
  for (const [name, value] of Object.entries(item.headers ?? {})) {
    if (name.toLowerCase() === 'content-type') contentType = value;
    else headers[name] = value;
  }
  const body = item.body_base64 !== undefined ? item.body_base64 : item.body !== undefined ? new TextEncoder().encode(item.body) : null;
  if (body?.length && !contentType) contentType = 'application/x-www-form-urlencoded';
  return {
    url: item.url, method: item.method, timeout: item.timeout, delay: item.delay, notBefore: item.not_before, max_retries: item.max_retries, flowKey: item.flow_key,
    retry: retryInput(item),
    headers, body: body?.length ? body : null, contentType,
  };
}

export const batchApp = (limits: ApiLimits) => app().openapi(batchRoute(limits), async (c) => {
  const items = c.req.valid('json');
  const now = Date.now();
  const s = scope(c);
  const rows = items.map((item, i) => buildTask(s, { ...itemInput(item), idempotencyKey: item.idempotency_key,
    callback: item.callback, failureCallback: item.failure_callback }, { now, field: `[${i}].` }));
  const results = await enqueue(s, rows);
  return c.json({ tasks: results.map(enqueuedJson) }, 201);
});
