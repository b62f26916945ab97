// One task's outcome never sinks another's: a report (callback) that cannot be built or stored
// fails alone, and the outcomes recorded with it are written all the same.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { SOURCE_BODY_MAX } from '../src/tasks/callbacks';
import { call, consume, enqueue, getTask, hook } from './helpers';

/** The JSON body of the report (callback task) made for task `id`. */
async function reportOf(id: string) {
  const row = await env.DB.prepare('SELECT body FROM tasks WHERE callback_of = ?').bind(id).first<{ body: number[] | ArrayBuffer }>();
  return JSON.parse(new TextDecoder().decode(new Uint8Array(row!.body))) as { sourceBody: string; sourceMessageId: string };
}

describe('outcomes recorded together', () => {
  it('a /v2 task with a big body and a callback completes, reports, and its batch neighbour completes too', async () => {
    const told = hook('ok');
    // 300 KB: spread into String.fromCharCode it overflowed the stack, which stopped every
    // outcome flush of the invocation (these tasks stayed in_progress).
    const big = new Uint8Array(300_000).fill(97);
    const res = await call(`/v2/publish/${hook('ok').url}`, { method: 'POST', body: big, headers: { 'upstash-callback': told.url, 'content-type': 'application/octet-stream' } });
    expect(res.status).toBe(201);
    const { messageId } = (await res.json()) as { messageId: string };
    const neighbour = (await enqueue(hook('ok').url)).task.id as string;
    await consume([messageId, neighbour]);
    expect((await getTask(messageId)).status).toBe('completed');
    expect((await getTask(neighbour)).status).toBe('completed');
    const sent = await reportOf(messageId);
    expect(Buffer.from(sent.sourceBody, 'base64')).toEqual(Buffer.from(big));
  });

  it('a body past SOURCE_BODY_MAX is left out of the report, so the report still fits a row', async () => {
    const told = hook('ok');
    const big = new Uint8Array(SOURCE_BODY_MAX + 1).fill(98);
    const res = await call(`/v2/publish/${hook('ok').url}`, { method: 'POST', body: big, headers: { 'upstash-callback': told.url, 'content-type': 'application/octet-stream' } });
    const { messageId } = (await res.json()) as { messageId: string };
    await consume([messageId]);
    expect((await getTask(messageId)).status).toBe('completed');
    expect(await reportOf(messageId)).toMatchObject({ sourceBody: '', sourceMessageId: messageId });
  });

  it('a custom retry delay of 0 still waits MIN_RETRY_DELAY (no tight loop)', async () => {
    const res = await call(`/v2/publish/${hook('status', 'code=500').url}`, { method: 'POST', body: 'x', headers: { 'upstash-retry-delay': '0', 'upstash-retries': '3' } });
    const { messageId } = (await res.json()) as { messageId: string };
    const before = Date.now();
    await consume([messageId]);
    const row = await env.DB.prepare('SELECT status, due_at FROM tasks WHERE id = ?').bind(messageId).first<{ status: string; due_at: number }>();
    expect(row!.status).toBe('retry');
    expect(row!.due_at - before).toBeGreaterThanOrEqual(Number(env.MIN_RETRY_DELAY) * 1000);
  });
});
