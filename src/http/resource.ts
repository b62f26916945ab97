import { createRoute, OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { AppEnv } from './types';

// A resource is one sub-app, mounted under its prefix in app.ts, whose routes are written relative
// to it. Who may call its routes is said once, here, for all of them: the guard (guard.ts) enforces
// each route's `security` as the document shows it, so the route objects need not repeat it.

/** The schemes a resource may ask for (components.securitySchemes, registered in app.ts). */
export type Auth = 'apiKey' | 'adminToken' | 'metricsToken' | 'dashboardCookie' | 'public';

const SECURITY: Record<Auth, RouteConfig['security']> = {
  // The document's default security (app.ts): left off each operation, as the guard's default too.
  apiKey: undefined,
  adminToken: [{ adminToken: [] }],
  metricsToken: [{ metricsToken: [] }],
  dashboardCookie: [{ dashboardCookie: [] }],
  public: [],
};

/**
 * A resource: `route` (createRoute with the resource's security) and `app()`, a new sub-app for its
 * routes (one per set of config limits, for the resources whose schemas carry them). A route that
 * names its own security keeps it. `security` is for routes documented by hand (the dashboard's).
 */
export function resource(auth: Auth) {
  const security = SECURITY[auth];
  const route = <R extends RouteConfig>(r: R): R => {
    if (r.security || !security) return createRoute(r);
    // Right after the summary, where the document shows every other operation's security.
    const { method, path, summary, ...rest } = r;
    return createRoute({ method, path, summary, security, ...rest } as R);
  };
  return { route, security, app: () => new OpenAPIHono<AppEnv>() };
}
