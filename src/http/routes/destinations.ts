import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { normalizeHost } from '../../hook/hosts';
import { appCircuits, resetCircuit, type CircuitRow } from '../../store/circuits';
import { notFound } from '../errors';
import { errorResponses, jsonResponse } from '../schemas';
import type { AppEnv } from '../types';

// The circuit breakers of the app's destinations (see src/flow/breaker.ts). Only destinations that
// failed lately are listed; every other destination's circuit is closed.

const CircuitSchema = z
  .object({
    destination: z.string().openapi({ description: '"host:<name>", or "flow:<key>" for tasks of a flow', example: 'host:api.example.com' }),
    state: z.enum(['closed', 'open', 'half_open']),
    failures: z.number().int().openapi({ description: 'failures in a row (no answer, or 5xx)' }),
    since: z.string(),
    next_probe_at: z.string().nullable().openapi({ description: 'open: when one task may try the destination again' }),
  })
  .openapi('Circuit');

export const circuitJson = (c: CircuitRow) => ({
  destination: c.destination, state: c.state, failures: c.failures, since: new Date(c.since).toISOString(),
  next_probe_at: c.state === 'closed' ? null : new Date(c.probeAt).toISOString(),
});

const destinationParam = z.object({
  destination: z.string().min(1).max(300).openapi({ param: { name: 'destination', in: 'path' }, description: 'host:<name>, flow:<key>, or a bare host name' }),
});

/** "api.example.com" means its host; "host:…" and "flow:…" are taken as given (hosts normalised). */
function destinationName(raw: string): string | null {
  if (raw.startsWith('flow:')) return raw;
  const host = normalizeHost(raw.startsWith('host:') ? raw.slice(5) : raw);
  return host ? `host:${host}` : null;
}

export const destinationsApp = new OpenAPIHono<AppEnv>()
  .openapi(createRoute({
    method: 'get', path: '/destinations', summary: "Circuit breakers of the app's destinations that failed lately",
    responses: { 200: jsonResponse(z.object({ destinations: z.array(CircuitSchema) }), 'their circuits'), ...errorResponses },
  }), async (c) => c.json({ destinations: (await appCircuits(c.get('db'), c.get('app'))).map(circuitJson) }, 200))
  .openapi(createRoute({
    method: 'post', path: '/destinations/{destination}/reset', summary: "Close a destination's circuit now (its waiting tasks go when next due)",
    request: { params: destinationParam },
    responses: { 204: { description: 'closed' }, ...errorResponses },
  }), async (c) => {
    const name = destinationName(c.req.valid('param').destination);
    if (!name || !(await resetCircuit(c.get('db'), c.get('app'), name))) throw notFound('circuit');
    return c.body(null, 204);
  });
