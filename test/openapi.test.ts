import { describe, expect, it } from 'vitest';
import { call, callWith } from './helpers';

// Every API route, by method: the document must describe each one.
const ROUTES: [string, string][] = [
  ['get', '/'],
  ['post', '/'],
  ['delete', '/'],
  ['post', '/batch'],
  ['get', '/tasks'],
  ['get', '/tasks/{id}'],
  ['delete', '/tasks/{id}'],
  ['get', '/tasks/{id}/attempts'],
  ['post', '/tasks/{id}/retry'],
  ['post', '/tasks/retry'],
  ['get', '/stats'],
  ['get', '/dashboard'],
  ['post', '/admin/apps'],
  ['get', '/admin/apps'],
  ['post', '/admin/apps/{id}/keys'],
  ['delete', '/admin/keys/{key_id}'],
  ['get', '/openapi.json'],
  ['get', '/metrics'],
  ['get', '/flows'],
  ['put', '/flows/{key}'],
  ['get', '/flows/{key}'],
  ['delete', '/flows/{key}'],
  ['post', '/flows/{key}/pause'],
  ['post', '/flows/{key}/resume'],
  ['get', '/destinations'],
  ['post', '/destinations/{destination}/reset'],
  ['get', '/topics'],
  ['put', '/topics/{name}'],
  ['get', '/topics/{name}'],
  ['post', '/topics/{name}'],
  ['delete', '/topics/{name}'],
  ['post', '/schedules'],
  ['get', '/schedules'],
  ['get', '/schedules/{id}'],
  ['delete', '/schedules/{id}'],
  ['patch', '/schedules/{id}'],
  ['post', '/schedules/{id}/pause'],
  ['post', '/schedules/{id}/resume'],
];

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document covering every endpoint', async () => {
    const res = await call('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('Torque');
    for (const [method, path] of ROUTES) expect(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`).toBeDefined();
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops as object).map((m) => `${m} ${p}`));
    expect(documented.sort()).toEqual(ROUTES.map(([m, p]) => `${m} ${p}`).sort());
  });

  it('is generated from the validating schemas (limits and enums match what is enforced)', async () => {
    const doc = (await (await call('/openapi.json')).json()) as any;
    expect(doc.components.schemas.CallbackBody.properties.task.properties.response_base64).toBeDefined();
    const enqueue = doc.paths['/'].post;
    const url = enqueue.parameters.find((p: any) => p.name === 'url');
    expect(url.required).toBe(true);
    expect(url.schema.maxLength).toBe(2048);
    const batch = doc.paths['/batch'].post.requestBody.content['application/json'].schema;
    expect(batch.maxItems).toBe(100);
    expect(doc.components.schemas.Task.required).toContain('last_error');
    const status = doc.paths['/tasks'].get.parameters.find((p: any) => p.name === 'status');
    expect(status.schema.enum).toEqual(['pending', 'in_progress', 'retry', 'completed', 'failed']);
  });

  it('shows the enforced timeout limit (MAX_TIMEOUT), security schemes and the error answers', async () => {
    const doc = (await (await callWith({ MAX_TIMEOUT: '45', DEFAULT_TIMEOUT: '30' }, '/openapi.json')).json()) as any;
    expect(doc.paths['/'].post.parameters.find((p: any) => p.name === 'timeout').schema.maximum).toBe(45);
    expect(doc.components.schemas.BatchItem.properties.timeout.maximum).toBe(45);
    const schemes = doc.components.securitySchemes;
    expect(schemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.torqueApiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'Torque-Api-Key' });
    expect(schemes.apiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'api_key' });
    expect(doc.security).toEqual([{ bearer: [] }, { torqueApiKey: [] }, { apiKey: [] }]);
    expect(doc.paths['/'].get.security).toEqual([]);
    expect(doc.paths['/admin/apps'].post.security).toEqual([{ adminToken: [] }]);
    for (const [path, method] of [['/stats', 'get'], ['/tasks/{id}', 'get'], ['/', 'post']]) {
      for (const code of ['401', '503']) expect(doc.paths[path][method].responses[code], `${method} ${path} ${code}`).toBeDefined();
    }
    for (const [path, method] of [['/', 'post'], ['/batch', 'post'], ['/tasks/retry', 'post']]) expect(doc.paths[path][method].responses['429']).toBeDefined();
  });
});
