import type { TaskRow } from '../store/schema';
import { VERSION } from '../version';

// A task that can never be delivered must not be accepted: a request whose headers exceed what
// servers take (typically 8 to 16 KiB in all) is reset on every attempt.
const MAX_PASSTHROUGH_HEADERS = 64;
const MAX_PASSTHROUGH_BYTES = 16_384;

// Headers the hook call computes itself; passing them through would corrupt the request.
const RESERVED = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'user-agent']);

/**
 * Why one header cannot be sent, or null. The runtime's own `Headers` has the last word, exactly as
 * at call time (it throws on CR, LF, NUL and bad names). Values are held to printable ASCII besides:
 * the runtime would send other text as raw UTF-8 and common servers (Node's among them) reject
 * control characters, so such a task could never be delivered.
 */
export function headerProblem(name: string, value: string): string | null {
  if (/[\r\n\0]/.test(value)) return 'must not contain CR, LF or NUL';
  if (!/^[\t\x20-\x7e]*$/.test(value)) return 'must be printable ASCII (percent-encode other text)';
  try {
    new Headers().set(name, value);
  } catch (err) {
    return `is not a valid HTTP header (${err instanceof Error ? err.message : String(err)})`;
  }
  return null;
}

/** Checks a task's passthrough headers; returns `[header, problem]` for the first bad one. */
export function passthroughProblem(headers: Record<string, string>): [string, string] | null {
  const entries = Object.entries(headers);
  if (entries.length > MAX_PASSTHROUGH_HEADERS) return ['', `at most ${MAX_PASSTHROUGH_HEADERS} headers, got ${entries.length}`];
  let bytes = 0;
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    const reserved = !lower || RESERVED.has(lower) || lower.startsWith('torque-') || lower.startsWith('webhook-');
    const problem = reserved ? `cannot pass through the ${lower || 'empty'} header (Torque sets it)` : headerProblem(name, value);
    if (problem) return [name, problem];
    bytes += name.length + value.length;
  }
  if (bytes > MAX_PASSTHROUGH_BYTES) return ['', `at most ${MAX_PASSTHROUGH_BYTES} bytes of names and values in all, got ${bytes}`];
  return null;
}

/** The request headers of one attempt. Throws on stored headers the runtime refuses. */
export function hookHeaders(task: Pick<TaskRow, 'id' | 'headers' | 'contentType' | 'method' | 'attempts' | 'maxRetries'>): Headers {
  const headers = new Headers();
  if (task.headers) for (const [k, v] of Object.entries(JSON.parse(task.headers) as Record<string, string>)) headers.set(k, v);
  if (task.contentType && task.method !== 'GET') headers.set('content-type', task.contentType);
  headers.set('user-agent', `Torque/${VERSION}`);
  headers.set('torque-task-id', task.id);
  headers.set('torque-task-retry-count', String(task.attempts - 1));
  headers.set('torque-task-retry-limit', String(task.maxRetries));
  return headers;
}

/** Headers that mark a request as one of Torque's own deliveries (the API refuses them: loops). */
export const DELIVERY_HEADERS = ['torque-task-id', 'torque-task-retry-count'];
