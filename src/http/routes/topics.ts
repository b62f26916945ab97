import { z } from '@hono/zod-openapi';
import { hostRefusal } from '../../hook/hosts';
import { getTopic, listTopics, type Topic } from '../../store/topics';
import { buildTask, publish } from '../../tasks/enqueue';
import { removeTopic, setTopic } from '../../tasks/topics';
import { apiError, notFound } from '../errors';
import { EnqueuedSchema, enqueuedJson } from '../enqueued';
import { errorResponses, jsonOnly, jsonResponse, rateLimited } from '../schemas';
import { resource } from '../resource';
import { scope } from '../scope';
import { limitBody } from '../middleware';
import { requestedTask, taskHeaders } from './enqueue';
import { hookUrl, pathName, taskOptions, type ApiLimits } from './params';

// Fan-out: a topic names endpoints; publishing to it makes one task per endpoint, stored in one
// statement (one D1 batch), each with its own retries, so a dead endpoint holds up no other.

export const MAX_ENDPOINTS = 100;
const TopicSchema = z.object({ name: z.string(), endpoints: z.array(z.string()), updated_at: z.string() }).openapi('Topic');
const topicJson = (t: Topic) => ({ name: t.name, endpoints: t.endpoints, updated_at: new Date(t.updatedAt).toISOString() });
const nameParam = z.object({
  name: pathName.openapi({ param: { name: 'name', in: 'path' }, example: 'order-created' }),
});
/** Publish options: those of POST / but the URL (the topic's endpoints are the URLs). */
const publishOptions = (limits: ApiLimits) => {
  const { url: _url, ...rest } = taskOptions(limits);
  return rest;
};

// Mounted at /topics (app.ts); called with an API key (a publish is rate-limited: its 429).
const { app, route } = resource('apiKey');

export const topicsApp = (limits: ApiLimits) => app()
  .openapi(route({
    method: 'put', path: '/{name}', summary: `Set a topic's endpoints (1..${MAX_ENDPOINTS} URLs), creating it`,
    request: { params: nameParam, body: { required: true, content: { 'application/json': { schema: z.object({ endpoints: z.array(hookUrl).min(1, `must hold 1 to ${MAX_ENDPOINTS} URLs`).max(MAX_ENDPOINTS, `must hold 1 to ${MAX_ENDPOINTS} URLs`) }).strict() } } } },
    responses: { 200: jsonResponse(TopicSchema, 'the topic'), ...errorResponses, ...jsonOnly },
  }), async (c) => {
    const { endpoints } = c.req.valid('json');
    endpoints.forEach((url, i) => {
      const refusal = hostRefusal(url, c.get('config'));
      if (refusal) throw apiError(400, 'invalid_request', `endpoints[${i}]: ${refusal}`);
    });
    return c.json(topicJson(await setTopic(scope(c), c.req.valid('param').name, [...new Set(endpoints)])), 200);
  })
  .openapi(route({
    method: 'get', path: '/', summary: "The app's topics in name order (1,000 at most)",
    responses: { 200: jsonResponse(z.object({ topics: z.array(TopicSchema) }), 'the topics'), ...errorResponses },
  }), async (c) => c.json({ topics: (await listTopics(c.get('db'), c.get('appId'), 1000)).map(topicJson) }, 200))
  .openapi(route({
    method: 'get', path: '/{name}', summary: 'A topic and its endpoints',
    request: { params: nameParam },
    responses: { 200: jsonResponse(TopicSchema, 'the topic'), ...errorResponses },
  }), async (c) => {
    const topic = await getTopic(c.get('db'), c.get('appId'), c.req.valid('param').name);
    if (!topic) throw notFound('topic', c.req.valid('param').name);
    return c.json(topicJson(topic), 200);
  })
  .openapi(route({
    method: 'delete', path: '/{name}', summary: 'Delete a topic (tasks already published stay)',
    request: { params: nameParam },
    responses: { 204: { description: 'deleted' }, ...errorResponses },
  }), async (c) => {
    if (!(await removeTopic(scope(c), c.req.valid('param').name))) throw notFound('topic', c.req.valid('param').name);
    return c.body(null, 204);
  })
  .openapi(route({
    method: 'post', path: '/{name}', summary: 'Publish: one task per endpoint of the topic, with this body and these options (as POST /)',
    middleware: [limitBody()] as const,
    request: {
      params: nameParam, query: z.object(publishOptions(limits)), headers: taskHeaders,
      body: { required: false, content: { '*/*': { schema: z.string().openapi({ format: 'binary' }) } } },
    },
    responses: {
      201: jsonResponse(z.object({ tasks: z.array(EnqueuedSchema) }), 'the tasks, in endpoint order'),
      200: jsonResponse(z.object({ tasks: z.array(EnqueuedSchema) }), 'a publish with this Idempotency-Key was made before (within IDEMPOTENCY_TTL, or its tasks still exist): its tasks, in its endpoint order, whatever the topic holds now; one since gone is a GoneTask'),
      ...errorResponses, ...rateLimited,
      413: { description: 'body (times the endpoints) larger than MAX_BATCH_BYTES (4 × MAX_BODY_BYTES within the request memory budget)', content: errorResponses[400].content },
    },
  }), async (c) => {
    const topic = await getTopic(c.get('db'), c.get('appId'), c.req.valid('param').name);
    if (!topic) throw notFound('topic', c.req.valid('param').name);
    const input = await requestedTask(c.req.raw, c.req.valid('query'), c.req.valid('header'));
    // The body is stored once per endpoint: the whole publish is held to what a /batch may carry.
    const total = (input.body?.length ?? 0) * topic.endpoints.length;
    const most = c.get('config').MAX_BATCH_BYTES;
    if (total > most) throw apiError(413, 'body_too_large', `body: stored once per endpoint, ${topic.endpoints.length} × ${input.body!.length} bytes is more than MAX_BATCH_BYTES (${most} bytes)`);
    const now = Date.now();
    // An Idempotency-Key covers the whole publish (see tasks/idempotent.ts).
    const s = scope(c);
    const rows = topic.endpoints.map((url, i) => buildTask(s, { ...input, url }, { now, field: `endpoints[${i}].` }));
    const published = await publish(s, rows, { topic: topic.name, key: input.idempotencyKey, now });
    return c.json({ tasks: published.tasks.map(enqueuedJson) }, published.created ? 201 : 200);
  });
