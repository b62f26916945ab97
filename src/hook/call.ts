import type { TaskRow } from '../db/schema';
import { VERSION } from '../version';
import { parseRetryAfter } from './backoff';
import { signatureHeaders } from './sign';

export const RESPONSE_LOG_BYTES = 1024;

export interface AttemptResult {
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  /** Error kind and detail for attempts that got no HTTP answer, e.g. "timeout: ...". */
  error: string | null;
  response: string | null;
  outcome: 'ok' | 'network' | 'http' | 'gone';
  retryAfter: number | null;
}

export function hookHeaders(task: TaskRow): Headers {
  const headers = new Headers();
  if (task.headers) for (const [k, v] of Object.entries(JSON.parse(task.headers) as Record<string, string>)) headers.set(k, v);
  if (task.contentType && task.method !== 'GET') headers.set('content-type', task.contentType);
  headers.set('user-agent', `Torque/${VERSION}`);
  headers.set('torque-task-id', task.id);
  headers.set('torque-task-retry-count', String(task.attempts - 1));
  headers.set('torque-task-retry-limit', String(task.maxRetries));
  return headers;
}

/** Reads at most `limit` bytes of a body, then cancels the rest (an endless body cannot pin us). */
async function readHead(body: ReadableStream<Uint8Array> | null, limit: number): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) (all.set(p, at), (at += p.length));
  return new TextDecoder().decode(all.subarray(0, limit));
}

function describe(err: unknown, timedOut: boolean): string {
  if (timedOut) return 'timeout: no complete answer within the task timeout';
  const msg = err instanceof Error ? err.message : String(err);
  if (/dns|resolve|not known|ENOTFOUND/i.test(msg)) return `dns: ${msg}`;
  if (/reset|lost|closed|disconnected|EPIPE/i.test(msg)) return `reset: ${msg}`;
  return `connection: ${msg}`;
}

/** Calls the hook once, within the task's timeout, and classifies what happened. */
export async function callHook(task: TaskRow, signingSecret?: string): Promise<AttemptResult> {
  const startedAt = Date.now();
  const headers = hookHeaders(task);
  const body = task.method === 'GET' || !task.body ? null : new Uint8Array(task.body);
  if (signingSecret) {
    const sig = await signatureHeaders(signingSecret, task.id, Math.floor(startedAt / 1000), body);
    for (const [k, v] of Object.entries(sig)) headers.set(k, v);
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, task.timeout * 1000);
  const finish = (r: Omit<AttemptResult, 'startedAt' | 'durationMs'>): AttemptResult => ({
    startedAt,
    durationMs: Date.now() - startedAt,
    ...r,
  });
  try {
    const res = await fetch(task.url, { method: task.method, headers, body, redirect: 'follow', signal: controller.signal });
    const response = await readHead(res.body, RESPONSE_LOG_BYTES);
    const code = res.status;
    const outcome = code >= 200 && code < 300 ? 'ok' : code === 410 ? 'gone' : 'http';
    const retryAfter = code === 429 || code === 503 ? parseRetryAfter(res.headers.get('retry-after')) : null;
    return finish({ statusCode: code, error: null, response, outcome, retryAfter });
  } catch (err) {
    return finish({ statusCode: null, error: describe(err, timedOut), response: null, outcome: 'network', retryAfter: null });
  } finally {
    clearTimeout(timer);
  }
}
