import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { newId } from '../../ids';
import { cronProblem, nextRun } from '../../schedules/cron';
import { createSchedule, deleteSchedule, getSchedule, listSchedules, setSchedulePaused, type ScheduleRow } from '../../store/schedules';
import { getTask } from '../../tasks/across';
import { buildTask } from '../../tasks/enqueue';
import { apiError, notFound } from '../errors';
import { ErrorSchema, errorResponses, jsonOnly, jsonResponse, rateLimited } from '../schemas';
import type { AppEnv } from '../types';
import { itemInput } from './batch';
import { pathId, ScheduleInput, type ApiLimits } from './params';

// Recurring schedules: the cron tick (src/schedules/tick.ts) turns each due schedule into one task.

const ScheduleSchema = z
  .object({
    id: z.string(), name: z.string().nullable(), cron: z.string(), timezone: z.string(), url: z.string(), method: z.string(),
    paused: z.boolean(), next_run_at: z.string().nullable(), last_run_at: z.string().nullable(),
    last_task: z.object({ id: z.string(), status: z.string().nullable() }).nullable().openapi({ description: 'the task of the last run and its status (null once deleted)' }),
    created_at: z.string(),
  })
  .openapi('Schedule');

const iso = (ms: number | null) => (ms == null || ms > 8e15 ? null : new Date(ms).toISOString());
const scheduleJson = (s: ScheduleRow, lastStatus: string | null = null) => ({
  id: s.id, name: s.name, cron: s.cron, timezone: s.timezone, url: s.url, method: s.method, paused: s.paused,
  next_run_at: s.paused ? null : iso(s.nextRunAt), last_run_at: iso(s.lastRunAt),
  last_task: s.lastTaskId ? { id: s.lastTaskId, status: lastStatus } : null, created_at: new Date(s.createdAt).toISOString(),
});
const idParam = z.object({ id: pathId.openapi({ param: { name: 'id', in: 'path' } }) });
const PAGE = 100;

export const schedulesApp = (limits: ApiLimits) => new OpenAPIHono<AppEnv>()
  .openapi(createRoute({
    method: 'post', path: '/schedules', summary: 'Create a recurring schedule: a cron expression, a time zone and the task it makes each run',
    request: { body: { required: true, content: { 'application/json': { schema: ScheduleInput(limits) } } } },
    // Creating schedules counts against the app's enqueue rate limit (each one makes tasks for ever):
    // a route that declares a 429 is rate-limited by the guard.
    responses: {
      201: jsonResponse(ScheduleSchema, 'the schedule'), ...errorResponses, ...jsonOnly, ...rateLimited,
      409: jsonResponse(ErrorSchema, 'limit_reached: the app has MAX_SCHEDULES_PER_APP schedules'),
    },
  }), async (c) => {
    const input = c.req.valid('json');
    const timezone = input.timezone ?? 'UTC';
    const problem = cronProblem(input.cron, timezone);
    if (problem) throw apiError(400, 'invalid_request', `${problem.field}: ${problem.message}`);
    const now = Date.now();
    // The template is checked exactly as a task would be (host policy, headers, body size).
    const t = buildTask(c.get('config'), c.get('app'), itemInput(input), now);
    const max = c.get('config').MAX_SCHEDULES_PER_APP;
    const row = await createSchedule(c.get('db'), {
      appId: c.get('app'), id: newId(now), name: input.name ?? null, cron: input.cron.trim(), timezone,
      url: t.url, method: t.method, headers: t.headers ?? null, body: t.body ?? null, contentType: t.contentType ?? null,
      timeout: t.timeout, maxRetries: t.maxRetries, flowKey: t.flowKey ?? null, paused: false,
      nextRunAt: nextRun(input.cron, timezone, now)!, createdAt: now, updatedAt: now,
    }, max);
    if (!row) throw apiError(409, 'limit_reached', `this app has ${max} schedules, the most MAX_SCHEDULES_PER_APP allows: delete one first`);
    c.header('Location', `/schedules/${row.id}`);
    return c.json(scheduleJson(row), 201);
  })
  .openapi(createRoute({
    method: 'get', path: '/schedules', summary: `The app's schedules in creation order, ${PAGE} a page`,
    request: { query: z.object({ cursor: z.string().max(64).optional().openapi({ description: 'next_cursor of the previous page' }) }) },
    responses: { 200: jsonResponse(z.object({ schedules: z.array(ScheduleSchema), next_cursor: z.string().nullable() }), 'a page'), ...errorResponses },
  }), async (c) => {
    const rows = await listSchedules(c.get('db'), c.get('app'), PAGE + 1, c.req.valid('query').cursor);
    const page = rows.slice(0, PAGE);
    return c.json({ schedules: page.map((s) => scheduleJson(s)), next_cursor: rows.length > PAGE ? page.at(-1)!.id : null }, 200);
  })
  .openapi(createRoute({
    method: 'get', path: '/schedules/{id}', summary: 'A schedule, its next and last run, and how the last run went',
    request: { params: idParam },
    responses: { 200: jsonResponse(ScheduleSchema, 'the schedule'), ...errorResponses },
  }), async (c) => {
    const row = await getSchedule(c.get('db'), c.get('app'), c.req.valid('param').id);
    if (!row) throw notFound('schedule');
    const last = row.lastTaskId ? await getTask(c.get('shards'), c.get('app'), row.lastTaskId) : undefined;
    return c.json(scheduleJson(row, last?.status ?? null), 200);
  })
  .openapi(createRoute({
    method: 'delete', path: '/schedules/{id}', summary: 'Delete a schedule (tasks it made stay)',
    request: { params: idParam },
    responses: { 204: { description: 'deleted' }, ...errorResponses },
  }), async (c) => {
    if (!(await deleteSchedule(c.get('db'), c.get('app'), c.req.valid('param').id))) throw notFound('schedule');
    return c.body(null, 204);
  })
  .openapi(createRoute({
    method: 'post', path: '/schedules/{id}/pause', summary: 'Pause a schedule (no runs until resumed)',
    request: { params: idParam }, responses: { 200: jsonResponse(ScheduleSchema, 'the schedule'), ...errorResponses },
  }), async (c) => {
    const row = await setSchedulePaused(c.get('db'), c.get('app'), c.req.valid('param').id, true, null, Date.now());
    if (!row) throw notFound('schedule');
    return c.json(scheduleJson(row), 200);
  })
  .openapi(createRoute({
    method: 'post', path: '/schedules/{id}/resume', summary: 'Resume a schedule from its next run after now (paused runs are not made up)',
    request: { params: idParam }, responses: { 200: jsonResponse(ScheduleSchema, 'the schedule'), ...errorResponses },
  }), async (c) => {
    const now = Date.now();
    const found = await getSchedule(c.get('db'), c.get('app'), c.req.valid('param').id);
    if (!found) throw notFound('schedule');
    const row = await setSchedulePaused(c.get('db'), c.get('app'), found.id, false, nextRun(found.cron, found.timezone, now) ?? 8_640_000_000_000_000, now);
    return c.json(scheduleJson(row!), 200);
  });
