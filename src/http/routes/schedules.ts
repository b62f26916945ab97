import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { newId } from '../../ids';
import { cronProblem, nextRun, runsAgain } from '../../schedules/cron';
import { addSchedule, changeSchedule, removeSchedule, setPaused } from '../../schedules/manage';
import { getSchedule, listSchedules, type NewSchedule, type ScheduleRow } from '../../store/schedules';
import { taskStatuses } from '../../tasks/app-tasks';
import { buildTask } from '../../tasks/enqueue';
import { apiError, notFound } from '../errors';
import { bodyJson, ErrorSchema, errorResponses, jsonOnly, jsonResponse, rateLimited } from '../schemas';
import type { Config } from '../../config';
import { resource } from '../resource';
import { scope } from '../scope';
import type { AppEnv } from '../types';
import { itemInput } from './batch';
import { pathId, ScheduleInput, SchedulePatch, type ApiLimits } from './params';

// Recurring schedules: the cron tick (src/schedules/tick.ts) turns each due schedule into one task.

const ScheduleSchema = z
  .object({
    id: z.string(), name: z.string().nullable(), cron: z.string(), timezone: z.string(), url: z.string(), method: z.string(),
    timeout: z.number().int(), max_retries: z.number().int(), flow_key: z.string().nullable(),
    headers: z.record(z.string(), z.string()).openapi({ description: "the template's headers, Content-Type included" }),
    paused: z.boolean(), next_run_at: z.string().nullable(), last_run_at: z.string().nullable(),
    last_task: z.object({ id: z.string(), status: z.string().nullable() }).nullable().openapi({ description: 'the task of the last run and its status (null once deleted)' }),
    created_at: z.string(),
  })
  .openapi('Schedule');
/** One schedule with its template's body (listings leave bodies out). */
const ScheduleDetailSchema = ScheduleSchema.extend({
  body_base64: z.string().nullable().openapi({ description: "the template's body, base64 (null: none)" }),
  body: z.string().nullable().openapi({ description: 'the same body as text, when it is valid UTF-8' }),
}).openapi('ScheduleDetail');

const iso = (ms: number | null) => (ms == null || !runsAgain(ms) ? null : new Date(ms).toISOString());
const scheduleJson = (s: ScheduleRow, lastStatus: string | null = null) => ({
  id: s.id, name: s.name, cron: s.cron, timezone: s.timezone, url: s.url, method: s.method,
  timeout: s.timeout, max_retries: s.maxRetries, flow_key: s.flowKey, headers: templateHeaders(s), paused: s.paused,
  next_run_at: s.paused ? null : iso(s.nextRunAt), last_run_at: iso(s.lastRunAt),
  last_task: s.lastTaskId ? { id: s.lastTaskId, status: lastStatus } : null, created_at: new Date(s.createdAt).toISOString(),
});
/** The template's headers as given: the passthrough ones and its Content-Type. */
function templateHeaders(s: ScheduleRow): Record<string, string> {
  const headers = s.headers ? (JSON.parse(s.headers) as Record<string, string>) : {};
  return s.contentType ? { ...headers, 'Content-Type': s.contentType } : headers;
}
const detailJson = (s: ScheduleRow, lastStatus: string | null = null) => ({ ...scheduleJson(s, lastStatus), ...bodyJson(s.body) });
const idParam = z.object({ id: pathId.openapi({ param: { name: 'id', in: 'path' } }) });
const PAGE = 100;

/**
 * A schedule's row after a patch: the template is rebuilt from what it was and what changed, and
 * checked exactly as a new one (host policy, headers, body size); a new cron or zone is checked
 * and the next run recomputed from now (the tick only fires a schedule at the next_run_at it read).
 */
function patched(s: ScheduleRow, p: z.infer<ReturnType<typeof SchedulePatch>>, at: { config: Config; now: number }): Partial<NewSchedule> {
  const { config: cfg, now } = at;
  const cron = p.cron ?? s.cron;
  const timezone = p.timezone ?? s.timezone;
  const problem = cronProblem(cron, timezone);
  if (problem) throw apiError(400, 'invalid_request', `${problem.field}: ${problem.message}`);
  const body = p.body_base64 !== undefined ? p.body_base64 : p.body === null ? null : p.body !== undefined ? p.body : s.body && new Uint8Array(s.body);
  const t = buildTask({ config: cfg, appId: s.appId }, itemInput({
    url: p.url ?? s.url, method: p.method ?? (s.method as NonNullable<typeof p.method>), headers: p.headers ?? templateHeaders(s),
    ...(typeof body === 'string' ? { body } : { body_base64: body ?? undefined }),
    timeout: p.timeout ?? s.timeout, max_retries: p.max_retries ?? s.maxRetries, flow_key: p.flow_key === null ? undefined : (p.flow_key ?? s.flowKey ?? undefined),
  }), { now });
  const rescheduled = p.cron !== undefined || p.timezone !== undefined;
  return {
    name: p.name === undefined ? s.name : p.name, cron: cron.trim(), timezone,
    url: t.url, method: t.method, headers: t.headers ?? null, body: t.body ?? null, contentType: t.contentType ?? null,
    timeout: t.timeout, maxRetries: t.maxRetries, flowKey: t.flowKey ?? null, updatedAt: now,
    ...(rescheduled ? { nextRunAt: nextRun(cron, timezone, now) } : {}),
  };
}

// Mounted at /schedules (app.ts); called with an API key (a new schedule is rate-limited: its 429).
const { app, route } = resource('apiKey');

const pauseRoute = (action: 'pause' | 'resume') => route({
  method: 'post', path: `/{id}/${action}`,
  summary: action === 'pause' ? 'Pause a schedule (no runs until resumed)' : 'Resume a schedule from its next run after now (paused runs are not made up)',
  request: { params: idParam }, responses: { 200: jsonResponse(ScheduleDetailSchema, 'the schedule, as GET /schedules/{id} shows it'), ...errorResponses },
});

/** Schedules as answered, each with its last task's status: one read per database for the lot. */
async function answered(c: Context<AppEnv>, rows: ScheduleRow[], as: typeof scheduleJson) {
  const statuses = await taskStatuses(c.get('shards'), c.get('appId'), rows.flatMap((r) => (r.lastTaskId ? [r.lastTaskId] : [])));
  return rows.map((r) => as(r, (r.lastTaskId && statuses.get(r.lastTaskId)) || null));
}
/** One schedule as GET shows it (404 if it is gone). */
const detail = async (c: Context<AppEnv>, row: ScheduleRow | undefined) => {
  if (!row) throw notFound('schedule', c.req.param('id'));
  return (await answered(c, [row], detailJson))[0];
};

export const schedulesApp = (limits: ApiLimits) => app()
  .openapi(route({
    method: 'post', path: '/', summary: 'Create a recurring schedule: a cron expression, a time zone and the task it makes each run',
    request: { body: { required: true, content: { 'application/json': { schema: ScheduleInput(limits) } } } },
    // Creating schedules counts against the app's enqueue rate limit (each one makes tasks for ever):
    // a route that declares a 429 is rate-limited by the guard.
    responses: {
      201: jsonResponse(ScheduleDetailSchema, 'the schedule, with its task template as GET /schedules/{id} shows it'), ...errorResponses, ...jsonOnly, ...rateLimited,
      409: jsonResponse(ErrorSchema, 'limit_reached: the app has MAX_SCHEDULES_PER_APP schedules'),
    },
  }), async (c) => {
    const input = c.req.valid('json');
    const timezone = input.timezone ?? 'UTC';
    const problem = cronProblem(input.cron, timezone);
    if (problem) throw apiError(400, 'invalid_request', `${problem.field}: ${problem.message}`);
    const now = Date.now();
    // The template is checked exactly as a task would be (host policy, headers, body size).
    const s = scope(c);
    const t = buildTask(s, itemInput(input), { now });
    const row = await addSchedule(s, {
      id: newId(now), name: input.name ?? null, cron: input.cron.trim(), timezone,
      url: t.url, method: t.method, headers: t.headers ?? null, body: t.body ?? null, contentType: t.contentType ?? null,
      timeout: t.timeout, maxRetries: t.maxRetries, flowKey: t.flowKey ?? null, paused: false,
      nextRunAt: nextRun(input.cron, timezone, now), createdAt: now, updatedAt: now,
    });
    const max = s.config.MAX_SCHEDULES_PER_APP;
    if (!row) throw apiError(409, 'limit_reached', `this app has ${max} schedules, the most MAX_SCHEDULES_PER_APP allows: delete one first`);
    c.header('Location', `/schedules/${row.id}`);
    return c.json(detailJson(row), 201);
  })
  .openapi(route({
    method: 'get', path: '/', summary: `The app's schedules in creation order, ${PAGE} a page`,
    request: { query: z.object({ cursor: z.string().max(64).optional().openapi({ description: 'next_cursor of the previous page' }) }) },
    responses: { 200: jsonResponse(z.object({ schedules: z.array(ScheduleSchema), next_cursor: z.string().nullable() }), 'a page'), ...errorResponses },
  }), async (c) => {
    const rows = await listSchedules(c.get('db'), c.get('appId'), PAGE + 1, c.req.valid('query').cursor);
    const page = rows.slice(0, PAGE);
    return c.json({ schedules: await answered(c, page, scheduleJson), next_cursor: rows.length > PAGE ? page.at(-1)!.id : null }, 200);
  })
  .openapi(route({
    method: 'get', path: '/{id}', summary: 'A schedule with its task template (body included), its next and last run, and how the last run went',
    request: { params: idParam },
    responses: { 200: jsonResponse(ScheduleDetailSchema, 'the schedule'), ...errorResponses },
  }), async (c) => {
    return c.json(await detail(c, await getSchedule(c.get('db'), c.get('appId'), c.req.valid('param').id)), 200);
  })
  .openapi(route({
    method: 'patch', path: '/{id}',
    summary: 'Change a schedule: cron, time zone, name, or its task template (url, method, headers, body, timeout, max_retries, flow_key); absent fields stay',
    request: { params: idParam, body: { required: true, content: { 'application/json': { schema: SchedulePatch(limits) } } } },
    responses: { 200: jsonResponse(ScheduleDetailSchema, 'the schedule as changed'), ...errorResponses, ...jsonOnly },
  }), async (c) => {
    const found = await getSchedule(c.get('db'), c.get('appId'), c.req.valid('param').id);
    if (!found) throw notFound('schedule', c.req.valid('param').id);
    // Deleted meanwhile: 404.
    return c.json(await detail(c, await changeSchedule(scope(c), found.id, patched(found, c.req.valid('json'), { config: c.get('config'), now: Date.now() }))), 200);
  })
  .openapi(route({
    method: 'delete', path: '/{id}', summary: 'Delete a schedule (tasks it made stay)',
    request: { params: idParam },
    responses: { 204: { description: 'deleted' }, ...errorResponses },
  }), async (c) => {
    if (!(await removeSchedule(scope(c), c.req.valid('param').id))) throw notFound('schedule', c.req.valid('param').id);
    return c.body(null, 204);
  })
  .openapi(pauseRoute('pause'), async (c) => c.json(await detail(c, await setPaused(scope(c), c.req.valid('param').id, true)), 200))
  .openapi(pauseRoute('resume'), async (c) => c.json(await detail(c, await setPaused(scope(c), c.req.valid('param').id, false)), 200));
