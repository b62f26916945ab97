import { OpenAPIHono, z } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { ConfigError } from '../config';
import { TaskInputError } from '../tasks/enqueue';
import { apiError } from './errors';
import { commonResponses, methodNotAllowed } from './schemas';
import { authenticate, BODY_FACTOR, context, hsts, limitBody, refuseLoops } from './middleware';
import { guard } from './guard';
import { adminApp, requireAdmin } from './routes/admin';
import { batchApp } from './routes/batch';
import { dashboardApp, signedIn } from './dashboard/routes';
import { enqueueApp } from './routes/enqueue';
import { metaApp } from './routes/meta';
import { metricsApp, requireMetrics } from './routes/metrics';
import { replayApp } from './routes/replay';
import { statsApp } from './routes/stats';
import { flowsApp } from './routes/flows';
import { destinationsApp } from './routes/destinations';
import { topicsApp } from './routes/topics';
import { schedulesApp } from './routes/schedules';
import { tasksApp } from './routes/tasks';
import { refuseUnknownParams } from './query';
import { routed } from './route-table';
import type { AppEnv } from './types';
import { VERSION } from '../version';

// Validation failures from every route become one 400 that names each bad field.
export const defaultHook = (result: { success: boolean; error?: unknown }) => {
  if (result.success) return;
  const issues = (result.error as { issues?: { path: PropertyKey[]; message: string }[] }).issues ?? [];
  const path = (p: PropertyKey[]) => p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('').replace(/^\./, '');
  const message = issues.map((i) => `${path(i.path) || 'request'}: ${i.message}`).join('; ');
  throw apiError(400, 'invalid_request', message || 'invalid request');
};

const app = new OpenAPIHono<AppEnv>({ defaultHook });

// Every request: config, https, loops; then what its route declares: who may call it (guard),
// the query parameters it takes, and how big a body it reads.
app.use('*', context, hsts, refuseLoops, guard(app, { apiKey: authenticate, adminToken: requireAdmin, metricsToken: requireMetrics, dashboardCookie: signedIn }),
  refuseUnknownParams(app), routed(limitBody(BODY_FACTOR)));

// The three ways to present an API key (any one will do), and the admin token.
const header = (name: string, description: string) => ({ type: 'apiKey' as const, in: 'header' as const, name, description });
app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' });
app.openAPIRegistry.registerComponent('securitySchemes', 'torqueApiKey', header('Torque-Api-Key', 'the API key'));
app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', header('api_key', "the API key (the original design's header)"));
app.openAPIRegistry.registerComponent('securitySchemes', 'metricsToken', { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <METRICS_TOKEN> (GET /metrics only)' });
app.openAPIRegistry.registerComponent('securitySchemes', 'dashboardCookie', { type: 'apiKey', in: 'cookie', name: 'torque_key', description: 'the dashboard sign-in cookie (POST /dashboard/login sets it)' });
app.openAPIRegistry.registerComponent('securitySchemes', 'adminToken', { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <ADMIN_TOKEN> (admin API only)' });
app.openAPIRegistry.registerPath({
  method: 'get',
  path: '/openapi.json',
  summary: 'This document (OpenAPI 3.1), generated from the schemas that validate requests',
  security: [],
  responses: { 200: { description: 'the document', content: { 'application/json': { schema: z.object({}).passthrough() } } }, ...commonResponses },
});
app.openAPIRegistry.registerComponent('responses', 'MethodNotAllowed', methodNotAllowed);

// Served by hand so that limits set by config (MAX_TIMEOUT) show as enforced, not as the schema's ceiling.
app.get('/openapi.json', (c) => {
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: 'Torque', version: VERSION, description: 'A web-hook task queue on Cloudflare Workers. API keys go in any of the three security schemes; the admin API takes the admin token. A path served with a method it does not take answers 405 (components.responses.MethodNotAllowed) with Allow listing the methods it takes; any other path answers 404.' },
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
app.route('/', enqueueApp);
app.route('/', batchApp);
app.route('/', replayApp);
app.route('/', tasksApp);
app.route('/', statsApp);
app.route('/', flowsApp);
app.route('/', destinationsApp);
app.route('/', topicsApp);
app.route('/', schedulesApp);

// 405 (wrong method) or 404 (no such thing), told from the routes registered: no list kept by hand.
let served: { method: string; path: RegExp }[] | undefined;
const routePattern = (path: string) => new RegExp(`^${path.split(/(:[^/]+)/).map((p) => (p.startsWith(':') ? '[^/]+' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`);

app.notFound((c) => {
  const path = new URL(c.req.url).pathname;
  served ??= app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, path: routePattern(r.path) }));
  const allow = [...new Set(served.filter((r) => r.path.test(path)).map((r) => r.method))];
  if (allow.length) {
    if (allow.includes('GET')) allow.push('HEAD');
    throw apiError(405, 'method_not_allowed', `${c.req.method} is not allowed on ${path} (it takes ${allow.join(', ')})`, { allow: allow.join(', ') });
  }
  throw apiError(404, 'not_found', `no route for ${c.req.method} ${path}`);
});

/**
 * What a D1 failure means for the client. Only a transient one (overloaded, busy, the connection
 * lost or reset, timed out, unavailable) is worth retrying: 503 + Retry-After. A deterministic
 * one (a constraint, a value too big, an SQL bug) fails the same way every time, so it is a 500
 * that says so, and a database without Torque's tables says how to migrate it.
 */
function storageFailure(err: unknown): 'transient' | 'not_migrated' | 'deterministic' | null {
  const messages: string[] = [];
  for (let e = err; e instanceof Error; e = e.cause) messages.push(e.message);
  const text = messages.join(' | ');
  if (/no such table/i.test(text)) return 'not_migrated';
  if (/overloaded|SQLITE_BUSY|database is locked|Network connection lost|connection reset|reset because|timed? ?out|unavailable|try again/i.test(text)) return 'transient';
  if (/D1_|SQLITE_|constraint|too (big|large)|no such column|syntax error/i.test(text)) return 'deterministic';
  return null;
}

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
  const storage = storageFailure(err);
  if (storage === 'transient') {
    return apiError(503, 'storage_unavailable', 'storage is unavailable; retry shortly', { 'retry-after': '5' }).getResponse();
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
