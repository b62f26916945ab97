import { z } from '@hono/zod-openapi';
import { circuitCounts } from '../../store/circuits';
import { appStats } from '../../tasks/app-tasks';
import { errorResponses } from '../schemas';
import { resource } from '../resource';

const Throughput = z.object({ enqueued: z.number(), attempts: z.number(), completed: z.number(), failed: z.number() });
const StatsSchema = z
  .object({
    tasks: z.object({
      pending: z.number(),
      in_progress: z.number(),
      retry: z.number(),
      completed: z.number(),
      failed: z.number(),
    }),
    throughput: z.object({ last_minute: Throughput, last_hour: Throughput, last_day: Throughput }),
    oldest_overdue_seconds: z.number().nullable().openapi({ description: 'how long the most overdue waiting task has been due; null when none is' }),
    circuits: z.object({ open: z.number(), half_open: z.number(), failing: z.number() })
      .openapi({ description: "the app's destinations whose circuit is open, half-open, or closed but counting failures (see /destinations)" }),
  })
  .openapi('Stats');

// Mounted at /stats (app.ts); called with an API key.
const { app, route } = resource('apiKey');

const statsRoute = route({
  method: 'get',
  path: '/',
  summary: "Counts by status and recent throughput for the caller's app (never scans tasks)",
  responses: { 200: { description: 'stats', content: { 'application/json': { schema: StatsSchema } } }, ...errorResponses },
});

export const statsApp = app().openapi(statsRoute, async (c) => {
  const [stats, circuits] = await Promise.all([appStats(c.get('shards'), c.get('appId'), Date.now()), circuitCounts(c.get('db'), c.get('appId'))]);
  return c.json({ ...stats, circuits: { open: circuits.open, half_open: circuits.half_open, failing: circuits.closed } }, 200);
});
