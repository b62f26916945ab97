import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { matchedRoutes } from 'hono/route';
import type { AppEnv } from './types';

// The route table exists once: each route's declaration (its path, security, query schema, body)
// is both what the OpenAPI document shows and what the app-wide middleware enforces. Nothing
// here keeps a list of paths.

/** The route a request reached (not a middleware), or undefined: it will be a 404 or 405. */
const routeOf = (c: Context) => matchedRoutes(c).find((r) => r.method !== 'ALL');

/** Runs `mw` only for a request that reached a route: a 404 or 405 is told before anything else. */
export const routed = (mw: MiddlewareHandler<AppEnv>) => createMiddleware<AppEnv>((c, next) => (routeOf(c) ? mw(c, next) : next()));

const key = (method: string, honoPath: string) => `${method === 'HEAD' ? 'GET' : method.toUpperCase()} ${honoPath}`;

/** The declaration of the route a request reached, read from the app's registry once. */
export function declarations(app: OpenAPIHono<AppEnv>) {
  let table: Map<string, RouteConfig> | undefined;
  return (c: Context): { path: string; declared: RouteConfig | undefined } | undefined => {
    const route = routeOf(c);
    if (!route) return undefined;
    table ??= new Map(app.openAPIRegistry.definitions.flatMap((d) => (d.type === 'route' ? [[key(d.route.method, d.route.path.replace(/\{([^}]+)\}/g, ':$1')), d.route] as const] : [])));
    return { path: route.path, declared: table.get(key(c.req.method, route.path)) };
  };
}
