import { z } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import { bearerToken, tokensEqual } from '../../keys';
import type { AppCounts } from '../../store/stats';
import { metrics, overdueSeconds } from '../../tasks/app-tasks';
import { apiError } from '../errors';
import { commonResponses, ErrorSchema } from '../schemas';
import { resource } from '../resource';
import type { AppEnv } from '../types';

// Prometheus text format (version 0.0.4), every app at once, for the operator: guarded by
// METRICS_TOKEN (or ADMIN_TOKEN when that is all there is), never by an app's API key.
const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function render(apps: AppCounts[], now: number): string {
  const out: string[] = [];
  const family = (name: string, help: string, lines: string[], type = 'gauge') => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
  family('torque_tasks', 'Tasks stored, by app and status.', apps.flatMap((a) =>
    Object.entries(a.tasks).map(([status, n]) => `torque_tasks{app="${label(a.app)}",status="${status}"} ${n}`)));
  family('torque_last_day', 'Over the last 24 hours, by app: tasks enqueued, attempts ended, tasks completed, tasks failed.', apps.flatMap((a) =>
    Object.entries(a.window.day).map(([kind, n]) => `torque_last_day{app="${label(a.app)}",kind="${kind}"} ${n}`)));
  const counters = { enqueued: 'Tasks enqueued', attempts: 'Attempts ended', completed: 'Tasks completed', failed: 'Tasks failed for good' };
  for (const [kind, help] of Object.entries(counters) as [keyof AppCounts['total'], string][]) {
    family(`torque_${kind}_total`, `${help}, by app, since the app began.`, apps.map((a) => `torque_${kind}_total{app="${label(a.app)}"} ${a.total[kind]}`), 'counter');
  }
  family('torque_oldest_overdue_seconds', 'How long the most overdue waiting task of the app has been due (0 when none is).', apps.map((a) =>
    `torque_oldest_overdue_seconds{app="${label(a.app)}"} ${overdueSeconds(a, now) ?? 0}`));
  return `${out.join('\n')}\n`;
}

/** The operator's token (METRICS_TOKEN, or ADMIN_TOKEN when that is all there is); none set: a 404. */
export const requireMetrics = createMiddleware<AppEnv>(async (c, next) => {
  const token = c.get('config').METRICS_TOKEN ?? c.get('config').ADMIN_TOKEN;
  if (!token) throw apiError(404, 'not_found', 'metrics are disabled (set the METRICS_TOKEN secret)');
  const presented = bearerToken(c.req.header('authorization')) ?? '';
  if (!(await tokensEqual(presented, token))) {
    throw apiError(401, 'unauthorized', 'metrics need Authorization: Bearer <METRICS_TOKEN>', { 'www-authenticate': 'Bearer realm="torque-metrics"' });
  }
  await next();
});

// Mounted at /metrics (app.ts); guarded by requireMetrics through its security (metricsToken): see ../guard.ts.
const { app, security } = resource('metricsToken');
export const metricsApp = app();
metricsApp.get('/', async (c) => {
  const now = Date.now();
  return c.text(render(await metrics(c.get('shards'), now), now), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
});
metricsApp.openAPIRegistry.registerPath({
  method: 'get',
  path: '/',
  summary: 'Prometheus metrics for every app (operator only: Authorization: Bearer <METRICS_TOKEN>)',
  security,
  responses: {
    200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
    ...commonResponses,
    401: { description: 'the token is missing or wrong (WWW-Authenticate: Bearer)', content: { 'application/json': { schema: ErrorSchema } } },
    404: { description: 'metrics are disabled (neither METRICS_TOKEN nor ADMIN_TOKEN is set)', content: { 'application/json': { schema: ErrorSchema } } },
  },
});
