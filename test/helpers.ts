import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { inject } from 'vitest';
import app from '../src/app';
import { handleQueue, type TaskMessage } from '../src/queue';
import type { Received } from './hook-server';

export const hookBase = () => inject('hookUrl');
let counter = 0;
/** A fresh hook URL: /h/<unique key>/<behaviour>, plus the key to read its log. */
export function hook(behaviour: string, query = ''): { url: string; key: string } {
  const key = `k${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return { url: `${hookBase()}/h/${key}/${behaviour}${query ? `?${query}` : ''}`, key };
}

export async function received(key: string): Promise<Received[]> {
  const res = await fetch(`${hookBase()}/__log/${key}`);
  return (await res.json()) as Received[];
}

/** A request through the deployed entry point (the worker's own fetch handler and bindings). */
export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`http://torque.test${path}`, init));
}

/** The same app with some vars changed (e.g. AUTHENTICATE on), on the same D1 and queue. */
export async function callWith(vars: Record<string, unknown>, path: string, init?: RequestInit, base = 'http://torque.test'): Promise<Response> {
  return app.fetch(new Request(`${base}${path}`, init), { ...env, ...vars }, createExecutionContext());
}

export async function enqueue(url: string, body: BodyInit | null = 'x=1', params: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const qs = new URLSearchParams({ url, ...params });
  const res = await call(`/?${qs}`, { method: 'POST', body, headers });
  return { res, task: (await res.json()) as Record<string, any> };
}

/** Runs the queue consumer on a batch naming these task ids, as the platform would. */
export async function consume(ids: string[], vars: Record<string, unknown> = {}) {
  const batch = createMessageBatch<TaskMessage>(
    'torque-tasks',
    ids.map((id, i) => ({ id: `m${i}-${id}`, timestamp: new Date(), attempts: 1, body: { id } })),
  );
  const ctx = createExecutionContext();
  await handleQueue(batch, { ...env, ...vars } as Env);
  return getQueueResult(batch, ctx);
}

export async function getTask(id: string): Promise<Record<string, any>> {
  return (await call(`/tasks/${id}`)).json();
}

/** Makes a waiting task due now (a test shortcut for "time passes"). */
export async function makeDue(id: string) {
  await env.DB.prepare('UPDATE tasks SET due_at = ? WHERE id = ?').bind(Date.now() - 1, id).run();
}
