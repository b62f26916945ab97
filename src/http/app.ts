import { OpenAPIHono, z } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { ConfigError } from '../config';
import { TaskInputError } from '../tasks/enqueue';
import { apiError } from './errors';
import { authenticate, context, hsts, limitBody, rateLimit, refuseLoops } from './middleware';
import { adminApp } from './routes/admin';
import { batchApp } from './routes/batch';
import { dashboardApp } from './dashboard/routes';
import { enqueueApp } from './routes/enqueue';
import { metaApp } from './routes/meta';
import { metricsApp } from './routes/metrics';
import { replayApp } from './routes/replay';
import { statsApp } from './routes/stats';
import { flowsApp } from './routes/flows';
import { destinationsApp } from './routes/destinations';
import { topicsApp } from './routes/topics';
import { schedulesApp } from './routes/schedules';
import { tasksApp } from './routes/tasks';
import { refuseUnknownParams } from './query';
import { v2App } from './v2';
import type { AppEnv } from './types';
import { VERSION } from '../version';
import { d1Failure, RETRY_AFTER_S } from '../store/errors';

// Validation failures from every route become one 400 that names each bad field.
export const defaultHook = (result: { success: boolean; error?: unknown }) => {
  if (result.success) return;
  const issues = (result.error as { issues?: { path: PropertyKey[]; message: string }[] }).issues ?? [];
  const path = (p: PropertyKey[]) => p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('').replace(/^\./, '');
  const message = issues.map((i) => `${path(i.path) || 'request'}: ${i.message}`).join('; ');
  throw apiError(400, 'invalid_request', message || 'invalid request');
};

const app = new OpenAPIHono<AppEnv>({ defaultHook });

app.use('*', context, hsts, refuseLoops, refuseUnknownParams(app), limitBody(true));

// The three ways to present an API key (any one will do), and the admin token.
const header = (name: string, description: string) => ({ type: 'apiKey' as const, in: 'header' as const, name, description });
app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' });
app.openAPIRegistry.registerComponent('securitySchemes', 'torqueApiKey', header('Torque-Api-Key', 'the API key'));
app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', header('api_key', "the API key (the original design's header)"));
app.openAPIRegistry.registerComponent('securitySchemes', 'metricsToken', { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <METRICS_TOKEN> (GET /metrics only)' });
app.openAPIRegistry.registerComponent('securitySchemes', 'adminToken', { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <ADMIN_TOKEN> (admin API only)' });
app.openAPIRegistry.registerPath({
  method: 'get',
  path: '/openapi.json',
  summary: 'This document (OpenAPI 3.1), generated from the schemas that validate requests',
  security: [],
  responses: { 200: { description: 'the document', content: { 'application/json': { schema: z.object({}).passthrough() } } } },
});

// Served by hand so that limits set by config (MAX_TIMEOUT) show as enforced, not as the schema's ceiling.
app.get('/openapi.json', (c) => {
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: 'Torque', version: VERSION, description: 'A web-hook task queue on Cloudflare Workers. API keys go in any of the three security schemes; the admin API takes the admin token.' },
    security: [{ bearer: [] }, { torqueApiKey: [] }, { apiKey: [] }],
  });
  const max = c.get('config').MAX_TIMEOUT;
  const timeouts = [
    ...(doc.paths?.['/']?.post?.parameters ?? []).filter((p) => 'name' in p && p.name === 'timeout').map((p) => ('schema' in p ? p.schema : undefined)),
    (doc.components?.schemas?.BatchItem as { properties?: Record<string, unknown> } | undefined)?.properties?.timeout,
  ];
  for (const t of timeouts) if (t && typeof t === 'object') Object.assign(t, { maximum: max });
  return c.json(doc);
});

app.route('/', metaApp);
app.route('/', metricsApp);
app.route('/', adminApp);
app.route('/', dashboardApp);
for (const path of ['/', '/batch', '/tasks', '/tasks/*', '/stats', '/flows', '/flows/*', '/destinations', '/destinations/*', '/topics', '/topics/*', '/schedules', '/schedules/*']) app.use(path, authenticate);
// Replays count too: they start deliveries just as enqueues do.
app.on('POST', ['/', '/batch', '/tasks/retry', '/tasks/:id/retry', '/topics/:name'], rateLimit);
app.route('/', enqueueApp);
app.route('/', batchApp);
app.route('/', replayApp);
app.route('/', tasksApp);
app.route('/', statsApp);
app.route('/', flowsApp);
app.route('/', destinationsApp);
app.route('/', topicsApp);
app.route('/', schedulesApp);
app.route('/v2', v2App);

// Paths Torque serves, to tell 405 (wrong method) from 404 (no such thing).
const KNOWN = [/^\/$/, /^\/batch$/, /^\/stats$/, /^\/tasks(\/[^/]+(\/(attempts|retry))?)?$/, /^\/admin\//, /^\/openapi\.json$/, /^\/dashboard/, /^\/metrics$/, /^\/flows(\/[^/]+(\/(pause|resume))?)?$/, /^\/destinations(\/[^/]+\/reset)?$/, /^\/topics(\/[^/]+)?$/, /^\/schedules(\/[^/]+(\/(pause|resume))?)?$/];

app.notFound((c) => {
  const path = new URL(c.req.url).pathname;
  if (KNOWN.some((re) => re.test(path))) throw apiError(405, 'method_not_allowed', `${c.req.method} is not allowed on ${path}`);
  throw apiError(404, 'not_found', `no route for ${c.req.method} ${path}`);
});

const HONO_CODES: Record<number, string> = { 400: 'invalid_request', 403: 'forbidden', 413: 'body_too_large', 415: 'unsupported_media_type' };
const HONO_MESSAGES: Record<number, string> = { 403: 'cross-site form submissions are refused (Origin does not match)' };

app.onError((err, c) => {
  if (err instanceof HTTPException) {
    if (err.res?.headers.get('content-type')?.includes('application/json')) return err.getResponse();
    // Thrown by Hono or its middleware (malformed JSON, CSRF refusal...): same JSON shape as ours.
    const code = HONO_CODES[err.status] ?? 'error';
    const message = err.status === 400 && /json/i.test(err.message) ? `body: ${err.message}` : err.message || HONO_MESSAGES[err.status] || code;
    return apiError(err.status, code, message).getResponse();
  }
  if (err instanceof TaskInputError) {
    return apiError(err.tooLarge ? 413 : 400, err.tooLarge ? 'body_too_large' : 'invalid_request', err.message).getResponse();
  }
  if (err instanceof ConfigError) {
    console.error(err.message);
    return apiError(500, 'misconfigured', err.message).getResponse();
  }
  console.error('unhandled error', c.req.method, c.req.path, err);
  const storage = d1Failure(err);
  if (storage === 'transient') {
    return apiError(503, 'storage_unavailable', 'storage is unavailable; retry shortly', { 'retry-after': String(RETRY_AFTER_S) }).getResponse();
  }
  if (storage === 'not_migrated') {
    return apiError(500, 'not_migrated', "the database has no Torque tables: apply the migrations (npm run dev does it locally; see the README's deploy steps)").getResponse();
  }
  if (storage === 'deterministic') {
    return apiError(500, 'storage_error', 'storage refused this request and would refuse it again (not worth retrying); the log has the details').getResponse();
  }
  return apiError(500, 'internal', 'internal error').getResponse();
});

export default app;
