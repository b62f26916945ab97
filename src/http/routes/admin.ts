import { z } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import { createAppWithKey, issueKey, revokeApiKey } from '../../apps';
import { getApp, listApps } from '../../store/apps';
import { apiError, notFound } from '../errors';
import { bearerToken, tokensEqual } from '../../keys';
import { errorResponses, jsonOnly, jsonResponse } from '../schemas';
import { resource } from '../resource';
import type { AppEnv } from '../types';
import { pathId } from './params';

/** The admin API exists only when the ADMIN_TOKEN secret is set; otherwise it is a 404. */
export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  const token = c.get('config').ADMIN_TOKEN;
  if (!token) throw apiError(404, 'not_found', 'the admin API is disabled (set the ADMIN_TOKEN secret)');
  const presented = bearerToken(c.req.header('authorization'));
  if (!presented || !(await tokensEqual(presented, token))) {
    throw apiError(401, 'unauthorized', 'the admin API needs Authorization: Bearer <ADMIN_TOKEN>');
  }
  await next();
});

const AppSchema = z.object({ id: z.string(), name: z.string(), created_at: z.string() }).openapi('App');
const KeySchema = z.object({ key_id: z.string(), api_key: z.string().openapi({ description: 'shown once' }) });

// Mounted at /admin (app.ts); every route takes the admin token (requireAdmin, through the guard).
const { app, route } = resource('adminToken');

const createAppRoute = route({
  method: 'post',
  path: '/apps',
  summary: 'Create an application (tenant) and its first API key',
  request: {
    body: { required: true, content: { 'application/json': { schema: z.object({ name: z.string().min(1).max(100) }) } } },
  },
  responses: {
    201: jsonResponse(KeySchema.extend({ app: AppSchema.pick({ id: true, name: true }) }), 'created; the key is shown only now'),
    ...errorResponses,
    ...jsonOnly,
  },
});
const listAppsRoute = route({
  method: 'get',
  path: '/apps',
  summary: 'List applications',
  responses: { 200: jsonResponse(z.object({ apps: z.array(AppSchema) }), 'the apps'), ...errorResponses },
});
const addKeyRoute = route({
  method: 'post',
  path: '/apps/{id}/keys',
  summary: 'Add an API key to an application (for rotation)',
  request: { params: z.object({ id: pathId }) },
  responses: { 201: jsonResponse(KeySchema, 'created; the key is shown only now'), ...errorResponses },
});
const revokeRoute = route({
  method: 'delete',
  path: '/keys/{key_id}',
  summary: 'Revoke an API key',
  request: { params: z.object({ key_id: pathId }) },
  responses: { 204: { description: 'revoked' }, ...errorResponses },
});

const keyJson = (key: { keyId: string; apiKey: string }) => ({ key_id: key.keyId, api_key: key.apiKey });

export const adminApp = app()
  .openapi(createAppRoute, async (c) => {
    const { name } = c.req.valid('json');
    const made = await createAppWithKey(c.get('db'), name);
    return c.json({ app: { id: made.id, name: made.name }, ...keyJson(made.key) }, 201);
  })
  .openapi(listAppsRoute, async (c) => {
    const apps = await listApps(c.get('db'));
    return c.json({ apps: apps.map((a) => ({ id: a.id, name: a.name, created_at: new Date(a.createdAt).toISOString() })) }, 200);
  })
  .openapi(addKeyRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await getApp(c.get('db'), id))) throw notFound('app', id);
    return c.json(keyJson(await issueKey(c.get('db'), id)), 201);
  })
  .openapi(revokeRoute, async (c) => {
    if (!(await revokeApiKey(c.get('db'), c.req.valid('param').key_id))) throw notFound('key', c.req.valid('param').key_id);
    return c.body(null, 204);
  });
