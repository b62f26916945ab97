import { z } from '@hono/zod-openapi';
import { pauseFlow, removeFlow, setFlow } from '../../flow/limits';
import { getFlow, listFlows, type FlowRow } from '../../store/flows';
import { policyJson, policyText, retryPolicy, retryPolicyProblem } from '../../tasks/retry-policy';
import { apiError, notFound } from '../errors';
import { errorResponses, jsonOnly, jsonResponse, RetryPolicySchema } from '../schemas';
import { resource } from '../resource';
import { scope } from '../scope';
import { flowKey, retryOptions } from './params';

// Flow control per app and key: a rate (starts per period) and/or a parallelism (attempts at
// once), and a pause. Tasks name their flow with flow_key / Torque-Flow-Key. The limits live in
// the home database; each key's Durable Object enforces them (src/flow/gate.ts).

const FlowSchema = z
  .object({
    key: z.string(),
    rate: z.number().int().nullable().openapi({ description: 'starts per period; null: no rate limit' }),
    period: z.number().int().openapi({ description: 'seconds' }),
    parallelism: z.number().int().nullable().openapi({ description: 'attempts at once; null: no limit' }),
    paused: z.boolean(),
    retry: z.union([RetryPolicySchema, z.null()]).openapi({ description: "the retry policy of the flow's tasks that have none of their own; null: the default" }),
    updated_at: z.string(),
  })
  .openapi('Flow');

const LimitsSchema = z
  .object({
    rate: z.number().int().min(1).max(100_000).nullable().optional().openapi({ description: 'starts per period' }),
    period: z.number().int().min(1).max(86_400).optional().openapi({ description: 'seconds (default 1)' }),
    parallelism: z.number().int().min(1).max(10_000).nullable().optional().openapi({ description: 'attempts at once' }),
    ...retryOptions(true),
  })
  .strict()
  .refine((l) => l.rate != null || l.parallelism != null || l.retry_backoff || l.retry_min_delay || l.retry_max_delay, { message: 'give rate, parallelism, a retry policy, or several', path: ['rate'] })
  .openapi('FlowLimits');

const flowJson = (f: FlowRow) => ({ key: f.key, rate: f.rate, period: f.period, parallelism: f.parallelism, paused: f.paused, retry: policyJson(f.retryPolicy), updated_at: new Date(f.updatedAt).toISOString() });
const keyParam = z.object({ key: flowKey.openapi({ param: { name: 'key', in: 'path' } }) });
const MAX_LIST = 1000;

// Mounted at /flows (app.ts); called with an API key.
const { app, route } = resource('apiKey');

const putRoute = route({
  method: 'put', path: '/{key}', summary: "Set a flow's limits and retry policy (creating it; what is not given is unset); a pause stays as it was",
  request: { params: keyParam, body: { required: true, content: { 'application/json': { schema: LimitsSchema } } } },
  responses: { 200: jsonResponse(FlowSchema, 'the flow'), ...errorResponses, ...jsonOnly },
});
const listRoute = route({
  method: 'get', path: '/', summary: `The app's flows in key order, ${MAX_LIST} at most per page`,
  request: { query: z.object({ after: flowKey.optional().openapi({ description: 'the last key of the previous page' }) }) },
  responses: { 200: jsonResponse(z.object({ flows: z.array(FlowSchema), next_after: z.string().nullable() }), 'a page of flows'), ...errorResponses },
});
const getRoute = route({
  method: 'get', path: '/{key}', summary: 'A flow, and what it is doing now (attempts running, starts in the current period)',
  request: { params: keyParam },
  responses: { 200: jsonResponse(FlowSchema.extend({ running: z.number().int(), started_in_period: z.number().int(), waiting_for_a_slot: z.number().int().openapi({ description: 'tasks promised a later slot of the rate, not yet started' }) }), 'the flow'), ...errorResponses },
});
const deleteRoute = route({
  method: 'delete', path: '/{key}', summary: "Remove a flow's limits and pause: its tasks run unlimited",
  request: { params: keyParam },
  responses: { 204: { description: 'removed' }, ...errorResponses },
});
const pauseRoute = (action: 'pause' | 'resume') => route({
  method: 'post', path: `/{key}/${action}`,
  summary: action === 'pause' ? 'Hold every task of the flow (none is lost; they wait, their retries untouched)' : 'Let a paused flow go again',
  request: { params: keyParam },
  responses: { 200: jsonResponse(FlowSchema, 'the flow'), ...errorResponses },
});

export const flowsApp = app()
  .openapi(putRoute, async (c) => {
    const { key } = c.req.valid('param');
    const l = c.req.valid('json');
    const policy = retryPolicy({ backoff: l.retry_backoff, min: l.retry_min_delay, max: l.retry_max_delay }, c.get('config'));
    const bad = policy && retryPolicyProblem(policy, c.get('config'));
    if (bad) throw apiError(400, 'invalid_request', `${bad[0]}: ${bad[1]}`);
    const row = await setFlow(scope(c), key, { rate: l.rate ?? null, period: l.period ?? 1, parallelism: l.parallelism ?? null, retryPolicy: policyText(policy) });
    return c.json(flowJson(row), 200);
  })
  .openapi(listRoute, async (c) => {
    const rows = await listFlows(c.get('db'), c.get('appId'), MAX_LIST + 1, c.req.valid('query').after);
    const page = rows.slice(0, MAX_LIST);
    return c.json({ flows: page.map(flowJson), next_after: rows.length > MAX_LIST ? page.at(-1)!.key : null }, 200);
  })
  .openapi(getRoute, async (c) => {
    const { key } = c.req.valid('param');
    const row = await getFlow(c.get('db'), c.get('appId'), key);
    if (!row) throw notFound('flow', c.req.valid('param').key);
    const gate = c.env.FLOW_GATES.get(c.env.FLOW_GATES.idFromName(`flow\n${c.get('appId')}\n${key}`));
    const now = await gate.state({ rate: row.rate, periodMs: row.period * 1000, parallelism: row.parallelism, paused: row.paused });
    return c.json({ ...flowJson(row), ...now }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    if (!(await removeFlow(scope(c), c.req.valid('param').key))) throw notFound('flow', c.req.valid('param').key);
    return c.body(null, 204);
  })
  .openapi(pauseRoute('pause'), async (c) => c.json(flowJson(await pauseFlow(scope(c), c.req.valid('param').key, true)), 200))
  .openapi(pauseRoute('resume'), async (c) => c.json(flowJson(await pauseFlow(scope(c), c.req.valid('param').key, false)), 200));
