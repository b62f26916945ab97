import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { commonResponses, errorResponses, rateLimited } from '../schemas';
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
  request: {
    query: z.object({
      status: z.string().optional().openapi({ description: 'list only tasks of this status' }),
      cursor: z.string().optional().openapi({ description: 'the next page' }),
      replayed: z.string().optional().openapi({ description: 'after a bulk replay: how many it replayed (shown as a notice)' }),
      more: z.string().optional().openapi({ description: 'after a bulk replay: where the next stretch starts' }),
    }),
  },
});
page('/dashboard/schedules', "Dashboard: the app's schedules");
page('/dashboard/topics', "Dashboard: the app's topics");
page('/dashboard/tasks/{id}', 'Dashboard: a task and its attempts', { request: { params: taskId } });
form('/dashboard/login', 'Dashboard sign-in (form field api_key; sets an HttpOnly cookie)');
form('/dashboard/logout', 'Dashboard sign-out');
form('/dashboard/tasks/{id}/retry', 'Dashboard: replay a task', true, rateLimited);
form('/dashboard/tasks/{id}/delete', 'Dashboard: delete a task', true);
// The operator's buttons (src/http/dashboard/actions.ts): form fields as named, signed in by the cookie.
const button = (path: string, summary: string, params?: z.ZodObject, limits = {}) => metaApp.openAPIRegistry.registerPath({
  method: 'post', path, summary, security: cookie, ...(params ? { request: { params } } : {}),
  // A button's 404 is the API's JSON error (apiError), not a page.
  responses: { 303: redirect, 401: signIn, 404: { ...errorResponses[404], description: 'no such circuit or schedule' }, ...commonResponses, ...limits },
});
button('/dashboard/replay', 'Dashboard: replay a stretch of failed tasks (form field cursor, optional)', undefined, rateLimited);
button('/dashboard/destinations/reset', 'Dashboard: reset a circuit (form field destination)');
for (const action of ['pause', 'resume']) {
  button(`/dashboard/flows/${action}`, `Dashboard: ${action} a flow (form field key)`);
  button(`/dashboard/schedules/{id}/${action}`, `Dashboard: ${action} a schedule`, z.object({ id: z.string() }));
}
button('/dashboard/schedules/{id}/delete', 'Dashboard: delete a schedule', z.object({ id: z.string() }));
