import { z } from '@hono/zod-openapi';
import { TASK_STATUSES, type AttemptRow, type TaskRow } from '../store/schema';
import { policyJson } from '../tasks/retry-policy';

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .openapi('Error');

export const StatusSchema = z.enum(TASK_STATUSES);

export const RetryPolicySchema = z
  .object({
    backoff: z.enum(['exponential', 'linear', 'fixed']),
    min_delay: z.number().int().openapi({ description: 'seconds before the first retry' }),
    max_delay: z.number().int().openapi({ description: 'the longest wait between attempts, seconds' }),
  })
  .openapi('RetryPolicy');

export const TaskSchema = z
  .object({
    id: z.string().openapi({ example: '01KB3M7Q2Z8Y4X6W5V3T2S1R0Q' }),
    url: z.string(),
    method: z.string(),
    status: StatusSchema,
    attempts: z.number().int().openapi({ description: 'attempts started so far' }),
    max_retries: z.number().int(),
    timeout: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
    due_at: z.string().nullable().openapi({ description: 'when the next attempt is due (pending, retry)' }),
    completed_at: z.string().nullable(),
    expires_at: z.string().nullable().openapi({ description: 'when a completed or failed task is deleted' }),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    flow_key: z.string().nullable().openapi({ description: 'the flow the task goes through, if any' }),
    callback: z.string().nullable().openapi({ description: 'told of the outcome when the task completes' }),
    failure_callback: z.string().nullable().openapi({ description: 'told of the outcome when the task fails for good' }),
    callback_of: z.string().nullable().openapi({ description: 'on a callback task: the task whose outcome it reports' }),
    schedule_id: z.string().nullable().openapi({ description: 'the schedule that made the task, if one did' }),
    retry: z.union([RetryPolicySchema, z.null()]).openapi({ description: "the task's own retry policy; null: its flow's, else the deployment's default" }),
  })
  .openapi('Task');

/** `GET /tasks/{id}?include=body`: the task and what it sends. */
export const TaskWithBodySchema = TaskSchema.extend({
  body_base64: z.string().nullable().openapi({ description: 'the stored body, base64 (null: no body)' }),
  body: z.string().nullable().openapi({ description: 'the same body as text, when it is valid UTF-8 (else null)' }),
  content_type: z.string().nullable(),
  headers: z.record(z.string(), z.string()).openapi({ description: 'the headers passed through to the hook' }),
}).openapi('TaskWithBody');

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** A stored body as the API shows it: base64, and text when it is valid UTF-8. */
export function bodyJson(body: ArrayBuffer | Uint8Array | null | undefined): { body_base64: string | null; body: string | null } {
  const bytes = body == null ? null : new Uint8Array(body);
  let text: string | null = null;
  try {
    text = bytes && strictUtf8.decode(bytes);
  } catch {
    text = null; // binary: base64 only
  }
  return { body_base64: bytes && Buffer.from(bytes).toString('base64'), body: text };
}

export function taskWithBodyJson(t: TaskRow): z.infer<typeof TaskWithBodySchema> {
  return {
    ...taskJson(t),
    ...bodyJson(t.body),
    content_type: t.contentType,
    headers: t.headers ? (JSON.parse(t.headers) as Record<string, string>) : {},
  };
}

/** What a callback task carries (see tasks/callbacks.ts), as its JSON body. */
export const CallbackBodySchema = z
  .object({
    type: z.enum(['task.completed', 'task.failed']),
    at: z.string().openapi({ description: 'when the outcome was recorded' }),
    task: z.object({
      id: z.string(),
      url: z.string(),
      method: z.string(),
      status: z.enum(['completed', 'failed']),
      attempts: z.number().int(),
      last_status_code: z.number().int().nullable(),
      last_error: z.string().nullable(),
      response_base64: z.string().nullable().openapi({ description: 'the first KiB of the last answer: its bytes as received (binary or text), base64' }),
    }),
  })
  .openapi('CallbackBody', { description: 'The JSON body POSTed to a callback URL when the task it reports on completes or fails for good' });

export const AttemptSchema = z
  .object({
    number: z.number().int(),
    started_at: z.string(),
    duration_ms: z.number().int(),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
    response: z.string().nullable().openapi({ description: 'first 1 KiB of the response body' }),
  })
  .openapi('Attempt');

export type TaskJson = z.infer<typeof TaskSchema>;
export type AttemptJson = z.infer<typeof AttemptSchema>;

const iso = (ms: number | null) => (ms == null ? null : new Date(ms).toISOString());

export function taskJson(t: Omit<TaskRow, 'body'>): z.infer<typeof TaskSchema> {
  const waiting = t.status === 'pending' || t.status === 'retry';
  const finished = t.status === 'completed' || t.status === 'failed';
  return {
    id: t.id,
    url: t.url,
    method: t.method,
    status: t.status,
    attempts: t.attempts,
    max_retries: t.maxRetries,
    timeout: t.timeout,
    created_at: iso(t.createdAt)!,
    updated_at: iso(t.updatedAt)!,
    due_at: waiting ? iso(t.dueAt) : null,
    completed_at: iso(t.completedAt),
    expires_at: finished ? iso(t.dueAt) : null,
    last_status_code: t.lastStatusCode,
    last_error: t.lastError,
    flow_key: t.flowKey,
    callback: t.callbackUrl,
    failure_callback: t.failureCallbackUrl,
    callback_of: t.callbackOf,
    schedule_id: t.scheduleId,
    retry: policyJson(t.retryPolicy),
  };
}

/** The attempt log: archived attempts, then the latest one, which lives on the task row. */
export function attemptsJson(t: Omit<TaskRow, 'body'>, archived: AttemptRow[]): z.infer<typeof AttemptSchema>[] {
  const rows = archived.map((a) => ({
    number: a.number,
    started_at: iso(a.startedAt)!,
    duration_ms: a.durationMs,
    status_code: a.statusCode,
    error: a.error,
    response: a.response,
  }));
  if (t.lastStartedAt != null) {
    const number = t.status === 'in_progress' ? t.attempts - 1 : t.attempts;
    rows.push({
      number,
      started_at: iso(t.lastStartedAt)!,
      duration_ms: t.lastDurationMs ?? 0,
      status_code: t.lastStatusCode,
      error: t.lastError,
      response: t.lastResponse,
    });
  }
  return rows;
}

/** An OpenAPI JSON response entry. */
export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const error = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });
/** What any route may answer whatever it does (the middleware every request passes through). */
export const commonResponses = {
  301: { description: 'ENABLE_HSTS: a GET or HEAD over http is sent to https' },
  400: error('bad input; the message names the field (an unknown query parameter, a Torque delivery sent back: loop_detected)'),
  403: error('https_required (ENABLE_HSTS: only https), or a cross-site dashboard form'),
  413: error("body_too_large: a body over MAX_BATCH_BYTES (MAX_BODY_BYTES where the body is the task's data), refused before it is read"),
  500: error('misconfigured (a bad var, named), not_migrated (no schema), or storage_error (storage refused; not worth retrying)'),
  503: error('storage_unavailable: D1 is unreachable or overloaded; retry after Retry-After seconds'),
} as const;
export const errorResponses = {
  ...commonResponses,
  401: error('missing, malformed, unknown or revoked API key (WWW-Authenticate: Bearer)'),
  404: error('not_found: no such task, schedule, flow, topic, destination or key of this app (the message names which; another app\'s is not found either)'),
} as const;
/** For routes that start deliveries (enqueue, replay): the per-app rate limit. */
export const rateLimited = { 429: error('rate_limited: the app\'s enqueue rate limit; retry after Retry-After seconds') } as const;
/** For routes that take a JSON body: any other Content-Type is refused. */
export const jsonOnly = { 415: error('unsupported_media_type: the body must be application/json') } as const;
/** Answered for a path Torque serves, with a method it does not (Allow lists those it does). */
export const methodNotAllowed = {
  description: 'method_not_allowed: the path exists but not with this method; Allow lists the methods it takes',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
};
