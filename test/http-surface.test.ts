// Property: nothing a client sends makes Torque answer 5xx or throw, and every 4xx is the JSON
// error shape. Arbitrary methods, paths, query strings, headers and bodies, auth on and off.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { callWith, hookBase } from './helpers';

const token = fc.stringMatching(/^[A-Za-z0-9_.~-]{0,12}$/);
const segment = fc.oneof(
  token,
  fc.constantFrom('tasks', 'batch', 'stats', 'retry', 'attempts', 'admin', 'apps', 'keys', 'dashboard', 'login', 'openapi.json', '%00', '..', '%2F', 'ÿ'),
);
const path = fc.array(segment, { maxLength: 4 }).map((s) => `/${s.join('/')}`);
const queryValue = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom('', '0', '-1', '1e3', '99999999999999999999', 'NaN', 'http://a.test/x', 'ftp://x', `${'a'.repeat(3000)}`, 'failed', 'POST', 'get'),
);
const query = fc.dictionary(fc.constantFrom('url', 'method', 'timeout', 'delay', 'max_retries', 'status', 'limit', 'cursor', 'x'), queryValue, { maxKeys: 5 });
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
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
