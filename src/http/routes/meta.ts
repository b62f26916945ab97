import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { commonResponses, rateLimited } from '../schemas';
import type { AppEnv } from '../types';
import { VERSION } from '../../version';

const banner = createRoute({
  method: 'get',
  path: '/',
  summary: 'Service banner (no API key needed)',
  security: [],
  responses: {
    200: {
      description: 'name and version',
      content: { 'application/json': { schema: z.object({ name: z.literal('torque'), version: z.string() }) } },
    },
    ...commonResponses,
  },
});

export const metaApp = new OpenAPIHono<AppEnv>().openapi(banner, (c) => c.json({ name: 'torque' as const, version: VERSION }, 200));

// The dashboard is HTML rendered by plain Hono routes (src/http/dashboard); documented here all the same.
const html = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });
const signIn = html('AUTHENTICATE on and no valid sign-in cookie: the sign-in page');
const redirect = { description: 'done; Location says where to go next' };
const taskId = z.object({ id: z.string() });
const cookie = [{ dashboardCookie: [] }];
const page = (path: string, summary: string, extra: object = {}) => metaApp.openAPIRegistry.registerPath({
  method: 'get', path, summary, security: cookie, ...extra,
  responses: { 200: html('the page'), 401: signIn, 404: html('no such task'), ...commonResponses },
});
const form = (path: string, summary: string, params = false, limits = {}) => metaApp.openAPIRegistry.registerPath({
  method: 'post', path, summary, security: params ? cookie : [], ...(params ? { request: { params: taskId } } : {}),
  responses: { 303: redirect, 401: signIn, ...commonResponses, ...limits },
});
page('/dashboard', 'Human dashboard (HTML): counts, throughput, tasks, attempt logs, retry and delete (signs in with an API key into a cookie)', {
  request: { query: z.object({ status: z.string().optional().openapi({ description: 'list only tasks of this status' }), cursor: z.string().optional().openapi({ description: 'the next page' }) }) },
});
page('/dashboard/schedules', "Dashboard: the app's schedules");
page('/dashboard/tasks/{id}', 'Dashboard: a task and its attempts', { request: { params: taskId } });
form('/dashboard/login', 'Dashboard sign-in (form field api_key; sets an HttpOnly cookie)');
form('/dashboard/logout', 'Dashboard sign-out');
form('/dashboard/tasks/{id}/retry', 'Dashboard: replay a task', true, rateLimited);
form('/dashboard/tasks/{id}/delete', 'Dashboard: delete a task', true);
