// Property: nothing a client sends makes Torque answer 5xx or throw, and every 4xx is the JSON
// error shape. Arbitrary methods, paths, query strings, headers and bodies, auth on and off.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { callWith, hookBase } from './helpers';

const token = fc.stringMatching(/^[A-Za-z0-9_.~-]{0,12}$/);
// Control characters, percent-encoded, anywhere in a segment (CR/LF must never reach a header).
const control = fc.integer({ min: 0, max: 0x1f }).map((n) => `%${n.toString(16).padStart(2, '0')}`);
const controlSegment = fc.tuple(token, fc.array(control, { minLength: 1, maxLength: 3 }), token).map(([a, c, b]) => `${a}${c.join('')}${b}`);
const segment = fc.oneof(
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
const query = fc.dictionary(fc.constantFrom('url', 'method', 'timeout', 'delay', 'max_retries', 'status', 'limit', 'cursor', 'x'), queryValue, { maxKeys: 5 });
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

describe('the HTTP surface', () => {
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
