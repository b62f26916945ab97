// Property: nothing a client sends makes Torque answer 5xx or throw, and every 4xx is the JSON
// error shape. Arbitrary methods, paths, query strings, headers and bodies, auth on and off.
import fc from 'fast-check';
import OpenAPIBackend from 'openapi-backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { callWith, hookBase } from './helpers';

const token = fc.stringMatching(/^[A-Za-z0-9_.~-]{0,12}$/);
// Control characters, percent-encoded, anywhere in a segment (CR/LF must never reach a header).
const control = fc.integer({ min: 0, max: 0x1f }).map((n) => `%${n.toString(16).padStart(2, '0')}`);
const controlSegment = fc.tuple(token, fc.array(control, { minLength: 1, maxLength: 3 }), token).map(([a, c, b]) => `${a}${c.join('')}${b}`);
const segment = fc.oneof(
  fc.constantFrom('.', '..', '%2E%2E', '%2e.', '.%2E', '%2e'),
  token,
  controlSegment,
  fc.constantFrom('tasks', 'batch', 'stats', 'retry', 'attempts', 'admin', 'apps', 'keys', 'dashboard', 'login', 'openapi.json', '%00', '..', '%2F', 'ÿ'),
);
const path = fc.oneof(
  fc.array(segment, { maxLength: 4 }).map((s) => `/${s.join('/')}`),
  // Every route with an id, with the id in every position of hostile.
  fc.tuple(fc.constantFrom('/tasks/', '/dashboard/tasks/', '/admin/apps/', '/admin/keys/'), controlSegment, fc.constantFrom('', '/retry', '/delete', '/attempts', '/keys'))
    .map(([a, id, b]) => `${a}${id}${b}`),
);
const queryValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('', '0', '-1', '1e3', '99999999999999999999', 'NaN', 'http://a.test/x', 'ftp://x', `${'a'.repeat(3000)}`, 'failed', 'POST', 'get'),
);
const query = fc.dictionary(fc.constantFrom('url', 'method', 'timeout', 'delay', 'max_retries', 'status', 'all', 'limit', 'cursor', 'x', 'stauts', 'max_retry'), queryValue, { maxKeys: 5 });
// Any byte a client's Headers lets through: controls (but CR, LF, NUL), DEL (Latin-1 only makes workerd warn).
const headerValue = fc.oneof(fc.stringMatching(/^[\x20-\x7e]{0,40}$/), fc.stringMatching(/^[\x01-\x09\x0b\x0c\x0e-\x7f]{0,20}$/));
const headers = fc.dictionary(
  fc.constantFrom('content-type', 'authorization', 'api_key', 'torque-api-key', 'idempotency-key', 'torque-passthrough-x-a', 'torque-passthrough-host', 'origin', 'cookie', 'x-other'),
  headerValue,
  { maxKeys: 4 },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 200 }),
  fc.json({ maxDepth: 3 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.constantFrom('[]', '[{"url":"http://a.test"}]', '[{"url":1}]', '{"name":""}', 'api_key=tq_x_y'),
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS');

// For every documented route: every answer Torque gives is one its OpenAPI document declares. The
// checking is done by a validator nobody here wrote (openapi-backend: its router finds the operation,
// its ajv validators check a JSON body against the schema declared for that status); this file only
// generates requests, hostile ones included (dot segments in every path parameter, unknown query
// parameters, bodies over MAX_BODY_BYTES and over 4 ×, wrong methods and media types), and asks it.
type Doc = { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, { content?: Record<string, unknown> }> }>> };
const VARS = { MAX_BODY_BYTES: '3000', METRICS_TOKEN: 'metrics-token' };
let doc: Doc;
let api: OpenAPIBackend;

beforeAll(async () => {
  doc = (await (await callWith(VARS, '/openapi.json')).json()) as Doc;
  // openapi-backend addresses operations by operationId, which the document does not set: a copy gets
  // its method and path as id (nothing the validation reads is changed).
  const definition = structuredClone(doc) as any;
  for (const [path, ops] of Object.entries(definition.paths)) for (const [method, op] of Object.entries(ops as object)) (op as any).operationId = `${method} ${path}`;
  api = new OpenAPIBackend({ definition, quick: true, strict: true, validate: true, ignoreTrailingSlashes: false });
  await api.init();
});

const operations = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
const pathValue = fc.oneof(
  fc.constantFrom('..', '.', '%2E%2E', '%2e.', '.%2E', 'x', 'order-7', 'a..b', '01KB3M7Q2Z8Y4X6W5V3T2S1R0Q', 'host:127.0.0.1', '%00', 'ÿ'),
  fc.stringMatching(/^[A-Za-z0-9._:@-]{1,20}$/),
);
const docQueryValue = fc.oneof(fc.constantFrom('', 'true', 'failed', '1', '0', '99999999999', 'x', 'http://a.test/h', `${'http://a.test/h'}?a=1`), fc.string({ maxLength: 12 }));
const unknownName = fc.constantFrom('stauts', 'max_retry', 'b', 'x', '');
const docBody = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('{}', '[]', '{"rate":1}', '{"endpoints":["http://a.test/x"]}', '[{"url":"http://a.test/x"}]', '{"name":"n"}', '{"cron":"* * * * *","url":"http://a.test/x"}', 'api_key=x', 'not json'),
  fc.json({ maxDepth: 2 }),
  fc.integer({ min: 3001, max: 20_000 }).map((n) => 'x'.repeat(n)), // over MAX_BODY_BYTES, or over 4 ×
);
const contentType = fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/x-www-form-urlencoded');
const otherMethod = fc.constantFrom('get', 'post', 'put', 'delete', 'patch');

/** Which documented paths a concrete path is an instance of. */
const templateOf = (path: string) => Object.keys(doc.paths).filter((t) => new RegExp(`^${t.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));

async function expectDocumented(method: string, url: URL, res: Response, what: string) {
  const type = res.headers.get('content-type')?.split(';')[0] ?? null;
  const text = await res.text();
  const json = type === 'application/json' ? JSON.parse(text) : undefined;
  const op = api.router.matchOperation({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: {} });
  if (!op) {
    const known = templateOf(url.pathname);
    if (known.length) {
      expect(res.status, what).toBe(405);
      expect(res.headers.get('allow')?.split(', ').sort(), what).toEqual(expect.arrayContaining(Object.keys(doc.paths[known[0]]).map((m) => m.toUpperCase())));
    } else expect(res.status, what).toBe(404);
    expect(json?.error?.code, what).toBeTypeOf('string');
    return;
  }
  const declared = (op.responses as Record<string, { content?: Record<string, unknown> }>)[String(res.status)];
  expect(declared, `${what}: ${res.status} is not declared for ${op.operationId} (${text.slice(0, 200)})`).toBeDefined();
  if (declared.content) expect(Object.keys(declared.content), `${what}: ${res.status} ${type}`).toContain(type);
  else if (res.status !== 301 && res.status !== 303) expect(text, what).toBe('');
  if (json !== undefined) {
    const result = api.validator.validateResponse(json, op, res.status);
    expect(result.errors, `${what}: ${text.slice(0, 300)}`).toBeNull();
  }
}

describe('the HTTP surface', () => {
  it('property: every answer to any request on any documented route is declared there, with its body valid', async () => {
    const request = fc.record({
      operation: fc.constantFrom(...operations()),
      params: fc.array(pathValue, { minLength: 3, maxLength: 3 }),
      values: fc.array(docQueryValue, { minLength: 6, maxLength: 6 }),
      pick: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
      unknown: fc.option(unknownName, { freq: 3 }),
      otherMethod: fc.option(otherMethod, { freq: 4 }),
      body: docBody, contentType, auth: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let i = 0;
        const path = r.operation.path.replace(/\{[^}]+\}/g, () => r.params[i++]);
        const names = (r.operation.op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
        const q = new URLSearchParams();
        names.forEach((n, j) => r.pick[j % 6] && q.set(n, n === 'url' || n === 'callback' ? `${hookBase()}/h/doc/ok` : r.values[j % 6]));
        if (r.unknown !== null) q.append(r.unknown, '1');
        const method = (r.otherMethod ?? r.operation.method).toUpperCase();
        const headers: Record<string, string> = { authorization: path === '/metrics' ? 'Bearer metrics-token' : 'Bearer test-admin-token' };
        if (r.contentType) headers['content-type'] = r.contentType;
        const init: RequestInit = { method, headers };
        if (r.body !== undefined && method !== 'GET') init.body = r.body;
        const res = await callWith({ ...VARS, AUTHENTICATE: String(r.auth) }, `${path}${q.size ? `?${q}` : ''}`, init);
        // Where the request really went: clients and the runtime remove dot segments first.
        await expectDocumented(method, new URL(`http://torque.test${path}${q.size ? `?${q}` : ''}`), res, `${method} ${path}?${q} auth=${r.auth} body=${String(r.body).slice(0, 40)}`);
      }),
      { numRuns: 300 },
    );
  });

  it('property: no input produces a 5xx, and every 4xx is a JSON error', async () => {
    await fc.assert(
      fc.asyncProperty(method, path, query, headers, body, fc.boolean(), async (m, p, q, h, b, auth) => {
        const qs = new URLSearchParams(q).toString();
        const init: RequestInit = { method: m, headers: h };
        if (b !== undefined && m !== 'GET' && m !== 'HEAD') init.body = b as BodyInit;
        const res = await callWith({ AUTHENTICATE: String(auth) }, `${p}${qs ? `?${qs}` : ''}`, init);
        expect(res.status, `${m} ${p}?${qs}`).toBeLessThan(500);
        const type = res.headers.get('content-type') ?? '';
        if (res.status >= 400 && m !== 'HEAD' && !type.includes('text/html')) {
          expect(type).toContain('application/json');
          const json = (await res.json()) as { error: { code: string; message: string } };
          expect(typeof json.error.code).toBe('string');
          expect(json.error.message.length).toBeGreaterThan(0);
        } else {
          await res.arrayBuffer();
        }
      }),
      { numRuns: 400 },
    );
  });

  it('property: batch items with base64 of every length and headers with any character never cause a 5xx', async () => {
    const b64 = fc.stringMatching(/^[A-Za-z0-9+/]{0,13}={0,3}$/);
    const anyValue = fc.string({ unit: 'binary', maxLength: 12 });
    const item = fc.record({ body_base64: b64, headers: fc.dictionary(fc.constantFrom('X-A', 'Content-Type', 'x-b'), anyValue, { maxKeys: 2 }) }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 3 }), async (items) => {
        const body = JSON.stringify(items.map((i) => ({ url: `${hookBase()}/h/prop/ok`, ...i })));
        const res = await callWith({}, '/batch', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        expect(res.status, body).toBeLessThan(500);
        if (res.status >= 400) expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^\[\d\]\./);
        else await res.arrayBuffer();
      }),
      { numRuns: 300 },
    );
  });

  it('property: valid enqueues with arbitrary bodies and options round-trip', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 0, max: 100 }), async (bytes, timeout, retries) => {
        const url = `${hookBase()}/h/prop/ok`;
        const res = await callWith({}, `/?url=${encodeURIComponent(url)}&timeout=${timeout}&max_retries=${retries}`, { method: 'POST', body: bytes });
        expect(res.status).toBe(201);
        const task = (await res.json()) as { timeout: number; max_retries: number };
        expect(task).toMatchObject({ timeout, max_retries: retries });
      }),
      { numRuns: 50 },
    );
  });
});
