import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../types';
import { VERSION } from '../../version';

const banner = createRoute({
  method: 'get',
  path: '/',
  summary: 'Service banner (no API key needed)',
  security: [],
  responses: {
    200: {
      description: 'name and version',
      content: { 'application/json': { schema: z.object({ name: z.literal('torque'), version: z.string() }) } },
    },
  },
});

export const metaApp = new OpenAPIHono<AppEnv>().openapi(banner, (c) => c.json({ name: 'torque' as const, version: VERSION }, 200));

// The dashboard is HTML rendered by plain Hono routes; list it in the document all the same.
metaApp.openAPIRegistry.registerPath({
  method: 'get',
  path: '/dashboard',
  summary: 'Human dashboard (HTML): counts, throughput, tasks, attempt logs, retry and delete (signs in with an API key into a cookie)',
  security: [],
  request: { query: z.object({ status: z.string().optional().openapi({ description: 'list only tasks of this status' }), cursor: z.string().optional().openapi({ description: 'the next page' }) }) },
  responses: { 200: { description: 'the page', content: { 'text/html': { schema: z.string() } } } },
});
