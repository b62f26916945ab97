import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:workers';
import { apiFor } from '../src/http/app';
import { getConfig } from '../src/config';
import { call, callWith } from './helpers';

// Every route the app registers, by method, from its own route table (no list kept by hand).
// QStash's protocol (/v2) is described by docs/qstash.md, as QStash's own documentation describes it.
const ROUTES: [string, string][] = [...new Set(apiFor(getConfig(env)).routes.filter((r) => r.method !== 'ALL' && !r.path.startsWith('/v2/')).map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([^/]+)/g, '{$1}')}`))]
  .map((r) => r.split(' ') as [string, string]);

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document covering every endpoint', async () => {
    const res = await call('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('Torque');
    expect(ROUTES.length).toBeGreaterThan(40);
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

  it('shows the enforced timeout limit (MAX_TIMEOUT) everywhere a timeout is taken, security schemes and the error answers', async () => {
    const vars = { MAX_TIMEOUT: '45', DEFAULT_TIMEOUT: '30' };
    const doc = (await (await callWith(vars, '/openapi.json')).json()) as any;
    expect(doc.paths['/'].post.parameters.find((p: any) => p.name === 'timeout').schema.maximum).toBe(45);
    expect(doc.paths['/topics/{name}'].post.parameters.find((p: any) => p.name === 'timeout').schema.maximum).toBe(45);
    expect(doc.components.schemas.BatchItem.properties.timeout.maximum).toBe(45);
    expect(doc.components.schemas.ScheduleInput.properties.timeout.maximum).toBe(45);
    // The document is what validates: the same limit refuses 46 at the edge, naming the field.
    const over = await callWith(vars, '/schedules', { method: 'POST', body: JSON.stringify({ cron: '* * * * *', url: 'http://a.test/x', timeout: 46 }), headers: { 'content-type': 'application/json' } });
    expect(over.status).toBe(400);
    expect(((await over.json()) as any).error.message).toBe('timeout: must be at most 45');
    expect(JSON.stringify(doc.paths['/flows/{key}'].get.responses['200'])).toContain('"required":["running","started_in_period","waiting_for_a_slot"]');
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
