import { z } from '@hono/zod-openapi';
import { resource } from '../resource';
import { commonResponses } from '../schemas';
import { VERSION } from '../../version';

// The banner, at / (app.ts): public, for a health check or a curious client.
const { app, route } = resource('public');

const banner = route({
  method: 'get',
  path: '/',
  summary: 'Service banner (no API key needed)',
  responses: {
    200: {
      description: 'name and version',
      content: { 'application/json': { schema: z.object({ name: z.literal('torque'), version: z.string() }) } },
    },
    ...commonResponses,
  },
});

export const metaApp = app().openapi(banner, (c) => c.json({ name: 'torque' as const, version: VERSION }, 200));
