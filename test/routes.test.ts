import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:workers';
import { apiFor } from '../src/http/app';
import { getConfig } from '../src/config';
import { callWith } from './helpers';

// Routes are declared once: who may call each is its own declaration (guard.ts reads its security).
// This walks the app's route table, so a route added tomorrow is walked too.
describe('the route table', () => {
  it('no registered route is reachable without credentials unless its declaration says it is public', async () => {
    const doc = (await (await callWith({}, '/openapi.json')).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    const routes = [...new Set(apiFor(getConfig(env)).routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`))].map((r) => r.split(' '));
    expect(routes.length).toBeGreaterThan(40);
    const open: string[] = [];
    for (const [method, path] of routes) {
      const res = await callWith({ AUTHENTICATE: 'true' }, path.replace(/:[^/]+/g, '01KB3M7Q2Z8Y4X6W5V3T2S1R0Q'), { method, headers: { origin: 'http://torque.test' } });
      await res.arrayBuffer();
      const security = doc.paths[path.replace(/:([^/]+)/g, '{$1}')]?.[method.toLowerCase()]?.security;
      if (security?.length === 0) open.push(`${method} ${path}`);
      else expect(res.status, `${method} ${path} answered without credentials`).toBe(401);
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
