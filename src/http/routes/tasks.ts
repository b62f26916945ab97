import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { DELETE_MAX } from '../../store/tasks';
import { deleteTask, deleteTasks, getTask, getTaskWithBody, listAttempts, listTasks } from '../../tasks/app-tasks';
import { apiError, notFound } from '../errors';
import { AttemptSchema, attemptsJson, errorResponses, jsonResponse, StatusSchema, TaskSchema, taskJson, TaskWithBodySchema, taskWithBodyJson } from '../schemas';
import type { AppEnv } from '../types';
import { pathId, cursorParam, wholeNumber } from './params';

const idParam = z.object({ id: pathId.openapi({ param: { name: 'id', in: 'path' } }) });

const getRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}',
  summary: 'A task and its status; with include=body also its body and passthrough headers',
  request: {
    params: idParam,
    query: z.object({ include: z.enum(['body'], { error: 'must be body' }).optional().openapi({ description: 'body: add body_base64, body (text, when valid UTF-8), content_type and headers' }) }),
  },
  responses: { 200: jsonResponse(z.union([TaskWithBodySchema, TaskSchema]), 'the task (TaskWithBody with include=body)'), ...errorResponses },
});

const attemptsRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}/attempts',
  summary: 'The attempt log, oldest first',
  request: { params: idParam },
  responses: { 200: jsonResponse(z.object({ attempts: z.array(AttemptSchema) }), 'the attempts'), ...errorResponses },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/tasks/{id}',
  summary: 'Delete a task; it is never called afterwards (a task claimed in the last 2.5 s: the answer comes once its attempt has started or never will, up to 2.75 s)',
  request: { params: idParam },
  responses: { 204: { description: 'deleted' }, ...errorResponses },
});

const deleteAllRoute = createRoute({
  method: 'delete',
  path: '/',
  summary: `Delete the caller's tasks of one status (status=...) or all of them (all=true), up to ${DELETE_MAX} per call: call again with cursor=next_cursor until next_cursor is null`,
  description: 'A bare DELETE / (neither status nor all) is refused with 400: a path a client or the runtime normalised (DELETE /flows/.. arrives as DELETE /) or a typo must never empty a queue.',
  request: {
    query: z.object({
      status: StatusSchema.optional().openapi({ description: 'delete only the tasks of this status' }),
      all: z.literal('true', { error: 'must be true (or leave it out and give status=)' }).optional().openapi({ description: 'true: delete every task (required when no status is given)' }),
      cursor: cursorParam,
    }),
  },
  responses: {
    200: jsonResponse(z.object({ deleted: z.number().int(), next_cursor: z.string().nullable() }), 'how many were deleted, and where to go on from (null: done)'),
    ...errorResponses,
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/tasks',
  summary: 'List tasks, newest first, cursor-paginated (filtered by status, a page may hold fewer than limit: follow next_cursor until null)',
  request: {
    query: z.object({
      status: StatusSchema.optional(),
      schedule_id: z.string().min(1).max(64).optional().openapi({ description: 'only tasks this schedule made' }),
      limit: wholeNumber(1, 100).optional().openapi({ description: '1..100, default 50' }),
      cursor: cursorParam,
    }),
  },
  responses: {
    200: jsonResponse(z.object({ tasks: z.array(TaskSchema), next_cursor: z.string().nullable() }), 'a page of tasks'),
    ...errorResponses,
  },
});

export const tasksApp = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, async (c) => {
    const { status, schedule_id: scheduleId, limit = 50, cursor } = c.req.valid('query');
    const { tasks, next } = await listTasks(c.get('shards'), c.get('app'), { status, scheduleId, before: cursor, limit });
    return c.json({ tasks: tasks.map(taskJson), next_cursor: next }, 200);
  })
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (c.req.valid('query').include === 'body') {
      const task = await getTaskWithBody(c.get('shards'), c.get('app'), id);
      if (!task) throw notFound();
      return c.json(taskWithBodyJson(task), 200);
    }
    const task = await getTask(c.get('shards'), c.get('app'), id);
    if (!task) throw notFound();
    return c.json(taskJson(task), 200);
  })
  .openapi(attemptsRoute, async (c) => {
    const task = await getTask(c.get('shards'), c.get('app'), c.req.valid('param').id);
    if (!task) throw notFound();
    const archived = task.attempts > 1 ? await listAttempts(c.get('shards'), task.id) : [];
    return c.json({ attempts: attemptsJson(task, archived) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    if (!(await deleteTask(c.get('shards'), c.get('app'), c.req.valid('param').id))) throw notFound();
    return c.body(null, 204);
  })
  .openapi(deleteAllRoute, async (c) => {
    const { status, all, cursor } = c.req.valid('query');
    if (!status && !all) throw apiError(400, 'invalid_request', 'DELETE / names no tasks: send DELETE /?all=true to delete every task, or DELETE /?status=<status> for those of one status');
    const { total, next } = await deleteTasks(c.get('shards'), c.get('app'), { status, before: cursor });
    return c.json({ deleted: total, next_cursor: next }, 200);
  });
