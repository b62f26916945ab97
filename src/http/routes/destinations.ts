import { z } from '@hono/zod-openapi';
import { resetDestination } from '../../flow/reset';
import { appCircuits, type CircuitRow } from '../../store/circuits';
import { notFound } from '../errors';
import { errorResponses, jsonResponse } from '../schemas';
import { resource } from '../resource';
import { scope } from '../scope';
import { wholeNumber } from './params';

// The circuit breakers of the app's destinations (see src/flow/breaker.ts). Only destinations that
// failed lately are listed; every other destination's circuit is closed.

const CircuitSchema = z
  .object({
    destination: z.string().openapi({ description: 'an origin ("https://api.example.com", "http://127.0.0.1:8080"), or "flow:<key>" for tasks of a flow', example: 'https://api.example.com' }),
    state: z.enum(['closed', 'open', 'half_open']),
    failures: z.number().int().openapi({ description: 'failures in a row (no answer, or 5xx)' }),
    since: z.string(),
    next_probe_at: z.string().nullable().openapi({ description: 'open: when one task may try the destination again' }),
  })
  .openapi('Circuit');

const circuitJson = (c: CircuitRow) => ({
  destination: c.destination, state: c.state, failures: c.failures, since: new Date(c.since).toISOString(),
  next_probe_at: c.state === 'closed' ? null : new Date(c.probeAt).toISOString(),
});

const destinationParam = z.object({
  destination: z.string().min(1).max(300).openapi({
    param: { name: 'destination', in: 'path' },
    description: 'flow:<key>; an origin with its scheme, URL-encoded (https%3A%2F%2Fapi.example.com%3A8443); host:port (either scheme); or a bare host (every origin on it)',
  }),
});

// Mounted at /destinations (app.ts); called with an API key.
const { app, route } = resource('apiKey');

export const destinationsApp = app()
  .openapi(route({
    method: 'get', path: '/', summary: "Circuit breakers of the app's destinations that failed lately, by destination, cursor-paginated",
    request: {
      query: z.object({
        limit: wholeNumber(1, 100).optional().openapi({ description: '1..100, default 50' }),
        cursor: z.string().min(1).max(300).optional().openapi({ description: 'next_cursor of the previous page (the last destination it listed)' }),
      }),
    },
    responses: { 200: jsonResponse(z.object({ destinations: z.array(CircuitSchema), next_cursor: z.string().nullable() }), 'a page of circuits'), ...errorResponses },
  }), async (c) => {
    const { limit = 50, cursor } = c.req.valid('query');
    const rows = await appCircuits(c.get('db'), c.get('appId'), limit + 1, cursor);
    const page = rows.slice(0, limit);
    return c.json({ destinations: page.map(circuitJson), next_cursor: rows.length > limit ? page.at(-1)!.destination : null }, 200);
  })
  .openapi(route({
    method: 'post', path: '/{destination}/reset', summary: "Close a destination's circuit now: the tasks it held go at once",
    request: { params: destinationParam },
    responses: { 204: { description: 'closed' }, ...errorResponses },
  }), async (c) => {
    if (!(await resetDestination(scope(c), c.req.valid('param').destination))) throw notFound('circuit', c.req.valid('param').destination);
    return c.body(null, 204);
  });
