// How a request is made: the one `call` every resource uses, and a task's options as query and headers.
import type { Method, RetryPolicy } from './types.ts';

/** Options of one task (POST / and topic publishes). */
export interface TaskOptions {
  method?: Method;
  /** Seconds per attempt (1..MAX_TIMEOUT). */
  timeout?: number;
  /** Seconds before the first attempt. */
  delay?: number;
  /** The first attempt's time instead (unix seconds or an ISO 8601 instant; not with delay). */
  not_before?: number | string;
  /** The task's own retry policy, within the deployment's MIN_RETRY_DELAY..MAX_RETRY_DELAY. */
  retry_backoff?: RetryPolicy['backoff'];
  retry_min_delay?: number;
  retry_max_delay?: number;
  max_retries?: number;
  /** The flow whose rate, parallelism and pause the task's calls obey. */
  flow_key?: string;
  /** Told of the outcome when the task completes. */
  callback?: string;
  /** Told of the outcome when the task fails for good. */
  failure_callback?: string;
  /** Sent to the hook as they are (Content-Type sets the body's type). */
  headers?: Record<string, string>;
  idempotencyKey?: string;
}

export type Call = <T>(method: string, path: string, init?: { body?: BodyInit; headers?: Record<string, string>; query?: Record<string, unknown> }) => Promise<T>;

/** The query string of the defined entries, or ''. */
export function query(params: Record<string, unknown> = {}): string {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => [k, String(v)]));
  return q.size ? `?${q}` : '';
}

/** The query parameters and headers that carry a task's options. */
export function taskRequest(opts: TaskOptions): { query: Record<string, unknown>; headers: Record<string, string> } {
  const { method, timeout, delay, not_before, max_retries, flow_key, callback, failure_callback, retry_backoff, retry_min_delay, retry_max_delay } = opts;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    headers[name.toLowerCase() === 'content-type' ? 'content-type' : `torque-passthrough-${name}`] = value;
  }
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  return { query: { method, timeout, delay, not_before, max_retries, flow_key, callback, failure_callback, retry_backoff, retry_min_delay, retry_max_delay }, headers };
}

