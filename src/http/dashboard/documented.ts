import { z, type OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import { commonResponses, errorResponses, rateLimited } from '../schemas';
import type { AppEnv } from '../types';

// The dashboard is HTML rendered by plain Hono routes (routes.tsx, actions.ts); documented here
// all the same, relative to its prefix (/dashboard), with the security its resource declares:
// the guard reads it from here (the sign-in and sign-out forms say they are public).

const html = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });
const signIn = html('AUTHENTICATE on and no valid sign-in cookie: the sign-in page');
const redirect = { description: 'done; Location says where to go next' };
const taskId = z.object({ id: z.string() });

/** Registers every dashboard route in the sub-app's registry; `cookie` is the resource's security. */
export function documentDashboard(app: OpenAPIHono<AppEnv>, cookie: RouteConfig['security']) {
  const page = (path: string, summary: string, extra: object = {}) => app.openAPIRegistry.registerPath({
    method: 'get', path, summary, security: cookie, ...extra,
    responses: { 200: html('the page'), 401: signIn, 404: html('no such task'), ...commonResponses },
  });
  // A form about a task is signed in; sign-in and sign-out are not.
  const form = (path: string, summary: string, o: { task?: boolean; limits?: object } = {}) => app.openAPIRegistry.registerPath({
    method: 'post', path, summary, security: o.task ? cookie : [], ...(o.task ? { request: { params: taskId } } : {}),
    responses: { 303: redirect, 401: signIn, ...commonResponses, ...o.limits },
  });
  page('/', 'Human dashboard (HTML): counts, throughput, tasks, attempt logs, retry and delete (signs in with an API key into a cookie)', {
    request: {
      query: z.object({
        status: z.string().optional().openapi({ description: 'list only tasks of this status' }),
        cursor: z.string().optional().openapi({ description: 'the next page' }),
        replayed: z.string().optional().openapi({ description: 'after a bulk replay: how many it replayed (shown as a notice)' }),
        more: z.string().optional().openapi({ description: 'after a bulk replay: where the next stretch starts' }),
      }),
    },
  });
  page('/schedules', "Dashboard: the app's schedules");
  page('/topics', "Dashboard: the app's topics");
  page('/tasks/{id}', 'Dashboard: a task and its attempts', { request: { params: taskId } });
  form('/login', 'Dashboard sign-in (form field api_key; sets an HttpOnly cookie)');
  form('/logout', 'Dashboard sign-out');
  form('/tasks/{id}/retry', 'Dashboard: replay a task', { task: true, limits: rateLimited });
  form('/tasks/{id}/delete', 'Dashboard: delete a task', { task: true });
  // The operator's buttons (actions.ts): form fields as named, signed in by the cookie.
  const button = (path: string, summary: string, o: { params?: z.ZodObject; limits?: object } = {}) => app.openAPIRegistry.registerPath({
    method: 'post', path, summary, security: cookie, ...(o.params ? { request: { params: o.params } } : {}),
    // A button's 404 is the API's JSON error (apiError), not a page.
    responses: { 303: redirect, 401: signIn, 404: { ...errorResponses[404], description: 'no such circuit or schedule' }, ...commonResponses, ...o.limits },
  });
  button('/replay', 'Dashboard: replay a stretch of failed tasks (form field cursor, optional)', { limits: rateLimited });
  button('/destinations/reset', 'Dashboard: reset a circuit (form field destination)');
  for (const action of ['pause', 'resume']) {
    button(`/flows/${action}`, `Dashboard: ${action} a flow (form field key)`);
    button(`/schedules/{id}/${action}`, `Dashboard: ${action} a schedule`, { params: z.object({ id: z.string() }) });
  }
  button('/schedules/{id}/delete', 'Dashboard: delete a schedule', { params: z.object({ id: z.string() }) });
}
