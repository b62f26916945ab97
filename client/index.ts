// A typed client for Torque's HTTP API: no dependencies, any runtime with fetch (Node 18+, Workers,
// Deno, Bun, browsers). Hand-written rather than generated: the API is small, and this keeps the
// errors typed (TorqueError with the API's code and Retry-After) and bodies binary-safe.
export { verifyTorqueSignature } from './verify.ts';

export type TaskStatus = 'pending' | 'in_progress' | 'retry' | 'completed' | 'failed';

export interface Task {
  id: string;
  url: string;
  method: string;
  status: TaskStatus;
  attempts: number;
  max_retries: number;
  timeout: number;
  created_at: string;
  updated_at: string;
  due_at: string | null;
  completed_at: string | null;
  expires_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
}

export interface Attempt {
  number: number;
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response: string | null;
}

export interface Throughput { enqueued: number; attempts: number; completed: number; failed: number }
export interface Stats {
  tasks: Record<TaskStatus, number>;
  throughput: { last_minute: Throughput; last_hour: Throughput; last_day: Throughput };
  oldest_overdue_seconds: number | null;
}

export interface TaskOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Seconds per attempt (1..MAX_TIMEOUT). */
  timeout?: number;
  /** Seconds before the first attempt. */
  delay?: number;
  max_retries?: number;
  /** Sent to the hook as they are (Content-Type sets the body's type). */
  headers?: Record<string, string>;
  idempotencyKey?: string;
}

export interface BatchItem extends Omit<TaskOptions, 'idempotencyKey'> {
  url: string;
  body?: string | Uint8Array;
  idempotency_key?: string;
}

/** An error answer from Torque: its status, code and message, and Retry-After when given. */
// (No TypeScript parameter properties here or below: Node runs this file by stripping types.)
export class TorqueError extends Error {
  override name = 'TorqueError';
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | null;
  constructor(status: number, code: string, message: string, retryAfter: number | null) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const toBase64 = (b: Uint8Array) => btoa(Array.from(b, (x) => String.fromCharCode(x)).join(''));

// Torque's task ids (src/ids.ts): 26 characters of Crockford base32. Anything else is refused before a
// request is sent: an id such as ".." would be dropped from the path (DELETE /tasks/.. is DELETE /).
const TASK_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
function taskPath(id: string, rest = ''): string {
  if (typeof id !== 'string' || !TASK_ID.test(id)) {
    throw new TorqueError(400, 'invalid_request', `id: ${JSON.stringify(id)} is not a task id (26 characters of Crockford base32); nothing was sent`, null);
  }
  return `/tasks/${id}${rest}`;
}

export class TorqueClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;

  constructor(opts: { url: string; apiKey?: string; fetch?: typeof fetch }) {
    this.#base = opts.url.replace(/\/$/, '');
    this.#headers = opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {};
    this.#fetch = opts.fetch ?? fetch;
  }

  async #call<T>(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}): Promise<T> {
    const res = await this.#fetch(`${this.#base}${path}`, { method, body: init.body, headers: { ...this.#headers, ...init.headers } });
    if (!res.ok) {
      const error = ((await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } }).error;
      const retryAfter = res.headers.get('retry-after');
      throw new TorqueError(res.status, error?.code ?? 'error', error?.message ?? res.statusText, retryAfter ? Number(retryAfter) : null);
    }
    return (res.status === 204 ? undefined : await res.json()) as T;
  }

  /** Enqueues one task; `body` is sent to the hook byte for byte with `headers['content-type']`. */
  enqueue(url: string, body?: string | Uint8Array | null, opts: TaskOptions = {}): Promise<Task> {
    const q = new URLSearchParams({ url });
    for (const k of ['method', 'timeout', 'delay', 'max_retries'] as const) if (opts[k] !== undefined) q.set(k, String(opts[k]));
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(opts.headers ?? {})) {
      headers[name.toLowerCase() === 'content-type' ? 'content-type' : `torque-passthrough-${name}`] = value;
    }
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    return this.#call('POST', `/?${q}`, { body: body ?? undefined, headers });
  }

  /** Enqueues 1..100 tasks at once, all or nothing. */
  async enqueueBatch(items: BatchItem[]): Promise<Task[]> {
    const json = items.map(({ body, ...rest }) => (body instanceof Uint8Array ? { ...rest, body_base64: toBase64(body) } : { ...rest, body }));
    const res = await this.#call<{ tasks: Task[] }>('POST', '/batch', { body: JSON.stringify(json), headers: { 'content-type': 'application/json' } });
    return res.tasks;
  }

  async get(id: string): Promise<Task> {
    return this.#call('GET', taskPath(id));
  }

  async attempts(id: string): Promise<Attempt[]> {
    return (await this.#call<{ attempts: Attempt[] }>('GET', taskPath(id, '/attempts'))).attempts;
  }

  /** One page, newest first; follow `next_cursor` until it is null. */
  list(opts: { status?: TaskStatus; limit?: number; cursor?: string } = {}): Promise<{ tasks: Task[]; next_cursor: string | null }> {
    const q = new URLSearchParams(Object.entries(opts).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    return this.#call('GET', `/tasks${q.size ? `?${q}` : ''}`);
  }

  /** Every task (optionally of one status), newest first, page by page. */
  async *all(opts: { status?: TaskStatus } = {}): AsyncGenerator<Task> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...opts, limit: 100, cursor });
      yield* page.tasks;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  async delete(id: string): Promise<void> {
    return this.#call('DELETE', taskPath(id));
  }

  /** Deletes every task (optionally of one status), call after call; returns how many. */
  async deleteAll(status?: TaskStatus): Promise<number> {
    // Torque refuses a bare DELETE /: the whole queue goes only when asked for in so many words.
    return this.#follow('DELETE', '/', status ? { status } : { all: 'true' }, 'deleted');
  }

  /** Runs a bulk call again with `cursor` until its next_cursor is null, adding up `field`. */
  async #follow(method: string, path: string, filter: Record<string, string>, field: 'deleted' | 'retried'): Promise<number> {
    let total = 0;
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams(cursor ? { ...filter, cursor } : filter);
      const page: Record<string, unknown> = await this.#call(method, `${path}${q.size ? `?${q}` : ''}`);
      total += Number(page[field]);
      cursor = (page.next_cursor as string | null) ?? null;
    } while (cursor);
    return total;
  }

  async retry(id: string): Promise<Task> {
    return this.#call('POST', taskPath(id, '/retry'));
  }

  /** Replays every task of a status (default failed), call after call; returns how many. */
  retryAll(status: Exclude<TaskStatus, 'in_progress'> = 'failed'): Promise<number> {
    return this.#follow('POST', '/tasks/retry', { status }, 'retried');
  }

  stats(): Promise<Stats> {
    return this.#call('GET', '/stats');
  }
}
