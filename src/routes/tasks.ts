import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { deleteTask, deleteTasks, getTask, listAttempts } from '../db/tasks';
import { notFound } from '../errors';
import { AttemptSchema, attemptsJson, errorResponses, StatusSchema, TaskSchema, taskJson } from '../schemas';
import type { AppEnv } from '../types';

const idParam = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) });
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const getRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}',
  summary: 'A task and its status',
  request: { params: idParam },
  responses: { 200: json(TaskSchema, 'the task'), ...errorResponses },
});

const attemptsRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}/attempts',
  summary: 'The attempt log, oldest first',
  request: { params: idParam },
  responses: { 200: json(z.object({ attempts: z.array(AttemptSchema) }), 'the attempts'), ...errorResponses },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/tasks/{id}',
  summary: 'Delete a task; it is never called afterwards',
  request: { params: idParam },
  responses: { 204: { description: 'deleted' }, ...errorResponses },
});

const deleteAllRoute = createRoute({
  method: 'delete',
  path: '/',
  summary: "Delete all of the caller's tasks (optionally only those with one status)",
  request: { query: z.object({ status: StatusSchema.optional() }) },
  responses: { 200: json(z.object({ deleted: z.number().int() }), 'how many were deleted'), ...errorResponses },
});

export const tasksApp = new OpenAPIHono<AppEnv>()
  .openapi(getRoute, async (c) => {
    const task = await getTask(c.var.db, c.var.app, c.req.valid('param').id);
    if (!task) throw notFound();
    return c.json(taskJson(task), 200);
  })
  .openapi(attemptsRoute, async (c) => {
    const task = await getTask(c.var.db, c.var.app, c.req.valid('param').id);
    if (!task) throw notFound();
    const archived = task.attempts > 1 ? await listAttempts(c.var.db, task.id) : [];
    return c.json({ attempts: attemptsJson(task, archived) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    if (!(await deleteTask(c.var.db, c.var.app, c.req.valid('param').id))) throw notFound();
    return c.body(null, 204);
  })
  .openapi(deleteAllRoute, async (c) => {
    const deleted = await deleteTasks(c.var.db, c.var.app, c.req.valid('query').status);
    return c.json({ deleted }, 200);
  });
