import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { REPLAY_CHUNK, replayTasks } from '../../store/claim';
import { apiError, notFound } from '../errors';
import { errorResponses, rateLimited, TaskSchema, taskJson } from '../schemas';
import { nudge } from '../../tasks/nudge';
import { replay } from '../../tasks/enqueue';
import type { AppEnv } from '../types';

const retryOne = createRoute({
  method: 'post',
  path: '/tasks/{id}/retry',
  summary: 'Make a task due now (any status but in_progress); a finished task gets a fresh retry budget',
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: {
    202: { description: 'the task, due now', content: { 'application/json': { schema: TaskSchema } } },
    409: { description: 'the task is in progress', content: errorResponses[400].content },
    ...errorResponses,
    ...rateLimited,
  },
});

const retryMany = createRoute({
  method: 'post',
  path: '/tasks/retry',
  summary: `Replay up to ${REPLAY_CHUNK} tasks with one status (default failed); call again while retried = ${REPLAY_CHUNK}`,
  request: {
    query: z.object({ status: z.enum(['failed', 'completed', 'retry', 'pending']).default('failed') }),
  },
  responses: {
    202: {
      description: 'how many were replayed',
      content: { 'application/json': { schema: z.object({ retried: z.number().int() }) } },
    },
    ...errorResponses,
    ...rateLimited,
  },
});

export const replayApp = new OpenAPIHono<AppEnv>()
  .openapi(retryMany, async (c) => {
    const now = Date.now();
    const replayed = await replayTasks(c.var.db, c.var.app, c.req.valid('query').status, now, c.var.config.SWEEP_GRACE * 1000);
    await nudge(c.env, replayed, now);
    return c.json({ retried: replayed.length }, 202);
  })
  .openapi(retryOne, async (c) => {
    const task = await replay(c.var.db, c.env, c.var.config, c.var.app, c.req.valid('param').id);
    if (task === 'busy') throw apiError(409, 'conflict', 'the task is in progress; retry it once the attempt ends');
    if (!task) throw notFound();
    return c.json(taskJson(task), 202);
  });
