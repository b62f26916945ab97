import { z } from '@hono/zod-openapi';
import { REPLAY_CHUNK } from '../../store/claim';
import { deleteTask, getTask, getTaskWithBody, listAttempts, listTasks } from '../../tasks/app-tasks';
import { replay, replayMany } from '../../tasks/replay';
import { apiError, notFound } from '../errors';
import { AttemptSchema, attemptsJson, errorResponses, jsonResponse, rateLimited, StatusSchema, TaskSchema, taskJson, TaskWithBodySchema, taskWithBodyJson } from '../schemas';
import { resource } from '../resource';
import { scope } from '../scope';
import { pathId, cursorParam, wholeNumber } from './params';

// Mounted at /tasks (app.ts); called with an API key. Replays (retry) are rate-limited: they start deliveries.
const { app, route } = resource('apiKey');

const REPLAYABLE = ['failed', 'completed', 'retry', 'pending'] as const;

const retryOne = route({
  method: 'post',
  path: '/{id}/retry',
  summary: 'Make a task due now (any status but in_progress); a finished task gets a fresh retry budget',
  request: { params: z.object({ id: pathId }) },
  responses: {
    202: { description: 'the task, due now', content: { 'application/json': { schema: TaskSchema } } },
    409: { description: 'the task is in progress', content: errorResponses[400].content },
    ...errorResponses,
    ...rateLimited,
  },
});

const retryMany = route({
  method: 'post',
  path: '/retry',
  summary: `Replay up to ${REPLAY_CHUNK} tasks of the status named (status=failed, say); call again with cursor=next_cursor until next_cursor is null`,
  description: 'status is required: POST /tasks/./retry (a task id that is a dot segment) arrives as POST /tasks/retry, and must replay nothing.',
  request: {
    query: z.object({
      status: z.enum(REPLAYABLE, {
        error: (i) => (i.input === undefined ? 'is required (status=failed replays the failed tasks): a bulk replay names what it replays' : `must be one of ${REPLAYABLE.join(', ')}`),
      }),
      cursor: cursorParam,
    }),
  },
  responses: {
    202: {
      description: 'how many were replayed, and where to go on from (null: done)',
      content: { 'application/json': { schema: z.object({ retried: z.number().int(), next_cursor: z.string().nullable() }) } },
    },
    ...errorResponses,
    ...rateLimited,
  },
});

const idParam = z.object({ id: pathId.openapi({ param: { name: 'id', in: 'path' } }) });

const getRoute = route({
  method: 'get',
  path: '/{id}',
  summary: 'A task and its status; with include=body also its body and passthrough headers',
  request: {
    params: idParam,
    query: z.object({ include: z.enum(['body'], { error: 'must be body' }).optional().openapi({ description: 'body: add body_base64, body (text, when valid UTF-8), content_type and headers' }) }),
  },
  responses: { 200: jsonResponse(z.union([TaskWithBodySchema, TaskSchema]), 'the task (TaskWithBody with include=body)'), ...errorResponses },
});

const attemptsRoute = route({
  method: 'get',
  path: '/{id}/attempts',
  summary: 'The attempt log, oldest first',
  request: { params: idParam },
  responses: { 200: jsonResponse(z.object({ attempts: z.array(AttemptSchema) }), 'the attempts'), ...errorResponses },
});

const deleteRoute = route({
  method: 'delete',
  path: '/{id}',
  summary: 'Delete a task; it is never called afterwards (a task claimed in the last 2.5 s: the answer comes once its attempt has started or never will, up to 2.75 s)',
  request: { params: idParam },
  responses: { 204: { description: 'deleted' }, ...errorResponses },
});

const listRoute = route({
  method: 'get',
  path: '/',
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

export const tasksApp = app()
  .openapi(retryMany, async (c) => {
    const { status, cursor } = c.req.valid('query');
    const { replayed, next } = await replayMany(scope(c), { status, before: cursor });
    return c.json({ retried: replayed.length, next_cursor: next }, 202);
  })
  .openapi(retryOne, async (c) => {
    const task = await replay(scope(c), c.req.valid('param').id);
    if (task === 'busy') throw apiError(409, 'conflict', 'the task is in progress; retry it once the attempt ends');
    if (!task) throw notFound('task', c.req.valid('param').id);
    return c.json(taskJson(task), 202);
  })
  .openapi(listRoute, async (c) => {
    const { status, schedule_id: scheduleId, limit = 50, cursor } = c.req.valid('query');
    const { tasks, next } = await listTasks(c.get('shards'), c.get('appId'), { status, scheduleId, before: cursor, limit });
    return c.json({ tasks: tasks.map(taskJson), next_cursor: next }, 200);
  })
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (c.req.valid('query').include === 'body') {
      const task = await getTaskWithBody(c.get('shards'), c.get('appId'), id);
      if (!task) throw notFound('task', id);
      return c.json(taskWithBodyJson(task), 200);
    }
    const task = await getTask(c.get('shards'), c.get('appId'), id);
    if (!task) throw notFound('task', id);
    return c.json(taskJson(task), 200);
  })
  .openapi(attemptsRoute, async (c) => {
    const task = await getTask(c.get('shards'), c.get('appId'), c.req.valid('param').id);
    if (!task) throw notFound('task', c.req.valid('param').id);
    const archived = task.attempts > 1 ? await listAttempts(c.get('shards'), task.id) : [];
    return c.json({ attempts: attemptsJson(task, archived) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    if (!(await deleteTask(c.get('shards'), c.get('appId'), c.req.valid('param').id))) throw notFound('task', c.req.valid('param').id);
    return c.body(null, 204);
  });
