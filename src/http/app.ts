import { OpenAPIHono, z } from '@hono/zod-openapi';
import { getConfig } from '../config';
import { apiError } from './errors';
import { commonResponses, methodNotAllowed } from './schemas';
import { authenticate, context, hsts, limitBody, refuseLoops } from './middleware';
import { guard } from './guard';
import { defaultHook, handleError } from './on-error';
import { adminApp, requireAdmin } from './routes/admin';
import { batchApp } from './routes/batch';
import { dashboardApp, signedIn } from './dashboard/routes';
import { rootApp } from './routes/enqueue';
import { metaApp } from './routes/meta';
import { metricsApp, requireMetrics } from './routes/metrics';
import { statsApp } from './routes/stats';
import { flowsApp } from './routes/flows';
import { destinationsApp } from './routes/destinations';
import { topicsApp } from './routes/topics';
import { schedulesApp } from './routes/schedules';
import { tasksApp } from './routes/tasks';
import type { ApiLimits } from './routes/params';
import { refuseUnknownParams } from './query';
import { routed } from './route-table';
import { v2App } from './v2';
import type { AppEnv } from './types';
import { VERSION } from '../version';

const DESCRIPTION = 'A web-hook task queue on Cloudflare Workers. API keys go in any of the three security schemes; the admin API takes the admin token. '
  + 'A path served with a method it does not take answers 405 (components.responses.MethodNotAllowed) with Allow listing the methods it takes; any other path answers 404.';

/** The security schemes routes name: the three ways to present an API key, and the other tokens. */
function describeSecurity(app: OpenAPIHono<AppEnv>) {
  const header = (name: string, description: string) => ({ type: 'apiKey' as const, in: 'header' as const, name, description });
  const register = app.openAPIRegistry.registerComponent.bind(app.openAPIRegistry, 'securitySchemes');
  register('bearer', { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' });
  register('torqueApiKey', header('Torque-Api-Key', 'the API key'));
  register('apiKey', header('api_key', "the API key (the original design's header)"));
  register('metricsToken', { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <METRICS_TOKEN> (GET /metrics only)' });
  register('dashboardCookie', { type: 'apiKey', in: 'cookie', name: 'torque_key', description: 'the dashboard sign-in cookie (POST /dashboard/login sets it)' });
  register('adminToken', { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <ADMIN_TOKEN> (admin API only)' });
  app.openAPIRegistry.registerComponent('responses', 'MethodNotAllowed', methodNotAllowed);
}

/** 405 (wrong method, with Allow) or 404 (no such thing), told from the routes registered. */
function methodOrNotFound(app: OpenAPIHono<AppEnv>) {
  let served: { method: string; path: RegExp }[] | undefined;
  const pattern = (path: string) => new RegExp(`^${path.split(/(:[^/]+)/).map((p) => (p.startsWith(':') ? '[^/]+' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
  return (c: { req: { url: string; method: string } }): never => {
    const path = new URL(c.req.url).pathname;
    served ??= app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, path: pattern(r.path) }));
    const allow = [...new Set(served.filter((r) => r.path.test(path)).map((r) => r.method))];
    if (allow.length) {
      if (allow.includes('GET')) allow.push('HEAD');
      throw apiError(405, 'method_not_allowed', `${c.req.method} is not allowed on ${path} (it takes ${allow.join(', ')})`, { allow: allow.join(', ') });
    }
    throw apiError(404, 'not_found', `no route for ${c.req.method} ${path}`);
  };
}

/** The API for one set of config limits: its schemas carry them, so its document shows what is enforced. */
function buildApi(limits: ApiLimits): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });
  // Every request: config, https, loops; then what its route declares: who may call it (guard),
  // the query parameters it takes, and how big a body it reads.
  app.use('*', context, hsts, refuseLoops, guard(app, { apiKey: authenticate, adminToken: requireAdmin, metricsToken: requireMetrics, dashboardCookie: signedIn }),
    refuseUnknownParams(app), routed(limitBody(true)));
  describeSecurity(app);
  app.openapi({
    method: 'get', path: '/openapi.json', summary: 'This document (OpenAPI 3.1), generated from the schemas that validate requests', security: [],
    responses: { 200: { description: 'the document', content: { 'application/json': { schema: z.object({}).passthrough() } } }, ...commonResponses },
  }, (c) => c.json(app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: 'Torque', version: VERSION, description: DESCRIPTION },
    security: [{ bearer: [] }, { torqueApiKey: [] }, { apiKey: [] }],
  }), 200));

  // One sub-app per resource, mounted under its prefix; each resource declares who may call it and
  // each route what it takes (schemas, security, a 429 when rate-limited), for the guard to enforce.
  // (The order is the document's order, and Allow's.)
  const resources: [string, OpenAPIHono<AppEnv, any, any>][] = [['/', metaApp], ['/dashboard', dashboardApp], ['/metrics', metricsApp], ['/admin', adminApp],
    ['/', rootApp(limits)], ['/batch', batchApp(limits)], ['/tasks', tasksApp], ['/stats', statsApp], ['/flows', flowsApp],
    ['/destinations', destinationsApp], ['/topics', topicsApp(limits)], ['/schedules', schedulesApp(limits)]];
  for (const [prefix, resource] of resources) app.route(prefix, resource);
  // QStash's protocol: its routes are not OpenAPI routes (the guard gives them the API-key default).
  app.route('/v2', v2App);

  app.notFound(methodOrNotFound(app));
  app.onError(handleError);
  return app;
}

const built = new Map<string, OpenAPIHono<AppEnv>>();
/** The API for a deployment's limits, built once per isolate. */
export function apiFor(limits: ApiLimits): OpenAPIHono<AppEnv> {
  const key = JSON.stringify([limits.MAX_TIMEOUT]);
  let api = built.get(key);
  if (!api) built.set(key, (api = buildApi({ MAX_TIMEOUT: limits.MAX_TIMEOUT })));
  return api;
}

// A config that does not parse still gets an API (the widest limits): its context middleware
// then reports the bad variables as a 500 `misconfigured`, as for every other request.
const UNPARSED: ApiLimits = { MAX_TIMEOUT: 86_400 };
function limitsOf(env: Env): ApiLimits {
  try {
    return getConfig(env);
  } catch {
    return UNPARSED;
  }
}

export default {
  fetch: (req: Request, env: Env, ctx: ExecutionContext) => apiFor(limitsOf(env)).fetch(req, env, ctx),
};
