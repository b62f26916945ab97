import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { rateLimit } from './middleware';
import { declarations } from './route-table';
import type { AppEnv } from './types';

/**
 * Who may call a route is what the route declares, in the one place the OpenAPI document reads it
 * too: its `security`. `[]` is public; otherwise the first scheme it names picks the guard. A route
 * that declares nothing gets the document's default, an API key: a new route is never open by
 * omission. A route that declares a 429 answer (it starts deliveries) is counted by the per-app
 * rate limiter, after the caller is known. (An unrouted request passes on to its 404 or 405.)
 */
export function guard(app: OpenAPIHono<AppEnv>, guards: Record<string, MiddlewareHandler<AppEnv>> & { apiKey: MiddlewareHandler<AppEnv> }) {
  const declaredFor = declarations(app);
  return createMiddleware<AppEnv>(async (c, next) => {
    const route = declaredFor(c);
    if (!route) return next();
    const security = route.declared?.security;
    const then = route.declared?.responses[429] ? async () => void (await rateLimit(c, next)) : next;
    if (security?.length === 0) return then();
    const scheme = Object.keys(security?.[0] ?? {})[0];
    return (guards[scheme] ?? guards.apiKey)(c, then);
  });
}
