import { describe, expect, it } from 'vitest';
import { call, enqueue, hook } from './helpers';

// What a task carries, seen and chosen: its body and headers (include=body), its first attempt's
// time (not_before), its retry policy.
const json = async <T = any>(res: Response | Promise<Response>) => (await (await res).json()) as T;
const batch = (items: unknown[]) => call('/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items) });

describe('GET /tasks/{id}?include=body', () => {
  it('shows the body (base64, and as text when it is UTF-8) and the passthrough headers', async () => {
    const { task } = await enqueue(hook('ok').url, '{"order":"7 €"}', {}, { 'content-type': 'application/json', 'torque-passthrough-x-tenant': 'acme' });
    const plain = await json(call(`/tasks/${task.id}`));
    expect(plain).not.toHaveProperty('body');
    const full = await json(call(`/tasks/${task.id}?include=body`));
    expect(full).toMatchObject({ id: task.id, body: '{"order":"7 €"}', body_base64: Buffer.from('{"order":"7 €"}').toString('base64'), content_type: 'application/json', headers: { 'x-tenant': 'acme' } });
  });

  it('gives a binary body as base64 only, and no body as null', async () => {
    const bytes = Uint8Array.from([0xff, 0xfe, 0, 1, 0xc3]);
    const { task } = await enqueue(hook('ok').url, bytes, {}, { 'content-type': 'application/octet-stream' });
    expect(await json(call(`/tasks/${task.id}?include=body`))).toMatchObject({ body: null, body_base64: Buffer.from(bytes).toString('base64'), headers: {} });
    const { task: empty } = await enqueue(hook('ok').url, null);
    expect(await json(call(`/tasks/${empty.id}?include=body`))).toMatchObject({ body: null, body_base64: null });
  });

  it('refuses an unknown include with a 400 naming it', async () => {
    const { task } = await enqueue(hook('ok').url);
    const res = await call(`/tasks/${task.id}?include=secrets`);
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain('include');
  });
});
