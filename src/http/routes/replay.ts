import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { REPLAY_CHUNK } from '../../store/claim';
import { replayTasks } from '../../tasks/app-tasks';
import { apiError, notFound } from '../errors';
import { errorResponses, rateLimited, TaskSchema, taskJson } from '../schemas';
import { sendTaskMessagesBestEffort } from '../../tasks/queue-messages';
import { replay } from '../../tasks/enqueue';
import type { AppEnv } from '../types';
import { cursorParam, pathId } from './params';

const REPLAYABLE = ['failed', 'completed', 'retry', 'pending'] as const;

const retryOne = createRoute({
  method: 'post',
  path: '/tasks/{id}/retry',
  summary: 'Make a task due now (any status but in_progress); a finished task gets a fresh retry budget',
  request: { params: z.object({ id: pathId }) },
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

export const replayApp = new OpenAPIHono<AppEnv>()
  .openapi(retryMany, async (c) => {
    const now = Date.now();
    const { status, cursor } = c.req.valid('query');
    const { replayed, next } = await replayTasks(c.get('shards'), c.get('app'), status, now, c.get('config').ms.SWEEP_GRACE, cursor);
    await sendTaskMessagesBestEffort(c.env, replayed, now);
    return c.json({ retried: replayed.length, next_cursor: next }, 202);
  })
  .openapi(retryOne, async (c) => {
    const task = await replay(c.get('shards'), c.env, c.get('config'), c.get('app'), c.req.valid('param').id);
    if (task === 'busy') throw apiError(409, 'conflict', 'the task is in progress; retry it once the attempt ends');
    if (!task) throw notFound();
    return c.json(taskJson(task), 202);
  });
