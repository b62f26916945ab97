// A typed client for Torque's HTTP API: no dependencies, any runtime with fetch (Node 20+, Workers,
// Deno, Bun, browsers). Hand-written rather than generated: the API is small, and this keeps the
// errors typed (TorqueError with the API's code and Retry-After) and bodies binary-safe.
import { type Call, query, type TaskOptions, taskRequest } from './request.ts';
import { Destinations, Flows, Schedules, Topics } from './resources.ts';
import type { Attempt, BatchItem, Method, Stats, Task, TaskStatus, TaskWithBody } from './types.ts';

export type * from './types.ts';
export { verifyTorqueSignature } from './verify.ts';
export type { TaskOptions } from './request.ts';
export type { Destinations, Flows, Schedules, Topics } from './resources.ts';

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

/** How Torque spells a task id (src/ids.ts): 26 characters of Crockford base32. */
const TASK_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const toBase64 = (b: Uint8Array) => btoa(Array.from(b, (x) => String.fromCharCode(x)).join(''));

export class TorqueClient {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;
  readonly flows: Flows;
  readonly topics: Topics;
  readonly schedules: Schedules;
  readonly destinations: Destinations;

  constructor(opts: { url: string; apiKey?: string; fetch?: typeof fetch }) {
    this.#base = opts.url.replace(/\/$/, '');
    this.#headers = opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {};
    this.#fetch = opts.fetch ?? ((...args) => fetch(...args));
    const call: Call = (method, path, init) => this.#call(method, path, init);
    this.flows = new Flows(call);
    this.topics = new Topics(call);
    this.schedules = new Schedules(call);
    this.destinations = new Destinations(call);
  }

  async #call<T>(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string>; query?: Record<string, unknown> } = {}): Promise<T> {
    const res = await this.#fetch(`${this.#base}${path}${query(init.query)}`, { method, body: init.body, headers: { ...this.#headers, ...init.headers } });
    if (!res.ok) {
      const error = ((await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } }).error;
      const retryAfter = res.headers.get('retry-after');
      throw new TorqueError(res.status, error?.code ?? 'error', error?.message ?? res.statusText, retryAfter ? Number(retryAfter) : null);
    }
    return (res.status === 204 ? undefined : await res.json()) as T;
  }

  /** `/tasks/{id}...` for a well-formed task id; anything else is refused before it is sent (callers are async, so as a rejection). */
  #task(id: string, rest = ''): string {
    if (!TASK_ID.test(id)) throw new TorqueError(400, 'invalid_request', `id: ${JSON.stringify(id)} is not a task id`, null);
    return `/tasks/${id}${rest}`;
  }

  /** Enqueues one task; `body` is sent to the hook byte for byte with `headers['content-type']`. */
  enqueue(url: string, body?: string | Uint8Array | null, opts: TaskOptions = {}): Promise<Task> {
    const { query, headers } = taskRequest(opts);
    return this.#call('POST', '/', { body: (body ?? undefined) as BodyInit | undefined, headers, query: { url, ...query } });
  }

  /** Enqueues 1..100 tasks at once, all or nothing. */
  async enqueueBatch(items: BatchItem[]): Promise<Task[]> {
    const json = items.map(({ body, ...rest }) => (body instanceof Uint8Array ? { ...rest, body_base64: toBase64(body) } : { ...rest, body }));
    const res = await this.#call<{ tasks: Task[] }>('POST', '/batch', { body: JSON.stringify(json), headers: { 'content-type': 'application/json' } });
    return res.tasks;
  }

  async get(id: string): Promise<Task> {
    return this.#call('GET', this.#task(id));
  }

  /** The task with its stored body (base64, and as text when valid UTF-8) and headers. */
  async getWithBody(id: string): Promise<TaskWithBody> {
    return this.#call('GET', this.#task(id), { query: { include: 'body' } });
  }

  async attempts(id: string): Promise<Attempt[]> {
    return (await this.#call<{ attempts: Attempt[] }>('GET', this.#task(id, '/attempts'))).attempts;
  }

  /** One page, newest first; follow `next_cursor` until it is null. */
  list(opts: { status?: TaskStatus; schedule_id?: string; limit?: number; cursor?: string } = {}): Promise<{ tasks: Task[]; next_cursor: string | null }> {
    return this.#call('GET', '/tasks', { query: opts });
  }

  /** Every task (optionally of one status or schedule), newest first, page by page. */
  async *all(opts: { status?: TaskStatus; schedule_id?: string } = {}): AsyncGenerator<Task> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...opts, limit: 100, cursor });
      yield* page.tasks;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  async delete(id: string): Promise<void> {
    return this.#call('DELETE', this.#task(id));
  }

  /** Deletes every task of a status, or every task at all (`?all=true`), call after call; returns how many. */
  deleteAll(status?: TaskStatus): Promise<number> {
    return this.#follow('DELETE', '/', status ? { status } : { all: true }, 'deleted');
  }

  async retry(id: string): Promise<Task> {
    return this.#call('POST', this.#task(id, '/retry'));
  }

  /** Replays every task of a status (default failed), call after call; returns how many. */
  retryAll(status: Exclude<TaskStatus, 'in_progress'> = 'failed'): Promise<number> {
    return this.#follow('POST', '/tasks/retry', { status }, 'retried');
  }

  /** Runs a bulk call again with `cursor` until its next_cursor is null, adding up `field`. */
  async #follow(method: string, path: string, params: Record<string, unknown>, field: 'deleted' | 'retried'): Promise<number> {
    let total = 0;
    let cursor: string | null = null;
    do {
      const page: Record<string, unknown> = await this.#call(method, path, { query: { ...params, cursor } });
      total += Number(page[field]);
      cursor = (page.next_cursor as string | null) ?? null;
    } while (cursor);
    return total;
  }

  stats(): Promise<Stats> {
    return this.#call('GET', '/stats');
  }
}
