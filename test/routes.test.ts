import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:workers';
import { apiFor } from '../src/http/app';
import { getConfig } from '../src/config';
import { callWith } from './helpers';

// Routes are declared once: who may call each is its own declaration (guard.ts reads its security).
// This walks the app's route table, so a route added tomorrow is walked too.
// What each guard answers a caller without credentials (see guard.ts).
const REFUSED_BY: Record<string, RegExp> = {
  apiKey: /an API key is required/,
  adminToken: /the admin API needs Authorization: Bearer <ADMIN_TOKEN>/,
  metricsToken: /metrics need Authorization: Bearer <METRICS_TOKEN>/,
  dashboardCookie: /<form[^>]*action="\/dashboard\/login"/,
};

describe('the route table', () => {
  it('no registered route is reachable without credentials unless its declaration says it is public', async () => {
    const doc = (await (await callWith({}, '/openapi.json')).json()) as { paths: Record<string, Record<string, { security?: Record<string, unknown>[] }>> };
    const routes = [...new Set(apiFor(getConfig(env)).routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`))].map((r) => r.split(' '));
    expect(routes.length).toBeGreaterThan(40);
    const open: string[] = [];
    for (const [method, path] of routes) {
      const res = await callWith({ AUTHENTICATE: 'true' }, path.replace(/:[^/]+/g, '01KB3M7Q2Z8Y4X6W5V3T2S1R0Q'), { method, headers: { origin: 'http://torque.test' } });
      const body = await res.text();
      // Read from the document under the full path: each resource is mounted under its prefix, and
      // the guard reads the declaration the prefix was merged into.
      const security = doc.paths[path.replace(/:([^/]+)/g, '{$1}')]?.[method.toLowerCase()]?.security;
      if (security?.length === 0) {
        open.push(`${method} ${path}`);
        continue;
      }
      expect(res.status, `${method} ${path} answered without credentials`).toBe(401);
      // ...and it is the guard of the scheme the route declares (none: an API key) that refused it.
      const scheme = Object.keys(security?.[0] ?? { apiKey: [] })[0];
      expect(body, `${method} ${path} declares ${scheme}`).toMatch(REFUSED_BY[scheme]);
    }
    // The public ones, named: the banner, the document, and the dashboard's sign-in and sign-out.
    expect(open.sort()).toEqual(['GET /', 'GET /openapi.json', 'POST /dashboard/login', 'POST /dashboard/logout']);
  });

  it('405 comes from the registered routes, with Allow; a path no route has is a 404', async () => {
    const wrong = await callWith({}, '/stats', { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
    expect((await callWith({}, '/tasks/x', { method: 'PUT' })).headers.get('allow')).toBe('GET, DELETE, HEAD');
    for (const path of ['/dashboard/schedules/', '/dashboard/nowhere', '/admin/nowhere', '/tasks/x/y/z']) {
      const res = await callWith({}, path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
  });
});
