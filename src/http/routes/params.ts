import { z } from '@hono/zod-openapi';
import type { Config } from '../../config';

/** The config a route's schemas depend on: the document shows these limits because they validate. */
export type ApiLimits = Pick<Config, 'MAX_TIMEOUT'>;

export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const MAX_DELAY = 31_536_000;

/** A whole number written plainly in a query string ("10", not "1e1" or "10.0"). */
export const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,12}$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    // What the document shows is the number the string must spell (the pattern only keeps it plain).
    .openapi({ type: 'integer', minimum: min, maximum: max });

export const hookUrl = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : Array.isArray(issue.input) ? 'must be given once' : 'must be a string') })
  .max(2048, 'must be at most 2048 characters')
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an absolute http: or https: URL');

const hookMethod = z
  .string()
  .transform((m) => m.toUpperCase())
  .pipe(z.enum(METHODS, { error: `must be one of ${METHODS.join(', ')}` }));

/**
 * A name a client chooses that ends up in a path (flow keys, topic names). A dot segment (`.`, `..`)
 * could never be addressed: clients and the runtime remove dot segments from paths (`%2E%2E` too),
 * so `DELETE /flows/..` arrives as `DELETE /`. Refused wherever such a name is made.
 */
const NAME_PATTERN = /^(?!\.\.?$)[A-Za-z0-9._:@-]+$/;
export const pathName = z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters')
  .regex(NAME_PATTERN, `must match ${NAME_PATTERN.source}: letters, digits and . _ : @ - only, and not "." or ".." (dot segments, which URLs drop)`);

/** A path parameter naming something Torque made (a task, schedule, app or key id): never a dot segment either. */
export const pathId = z.string().min(1).max(64).regex(/^(?!\.\.?$)/, 'must not be "." or ".." (dot segments, which URLs drop)');

// An ISO 8601 instant: a date, a time and a zone (Z or an offset), e.g. 2026-12-24T18:00:00Z.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;
const NOT_BEFORE = 'must be unix seconds or an ISO 8601 instant with a zone (e.g. 2026-12-24T18:00:00Z)';
/** Unix ms from unix seconds (digits) or an ISO 8601 instant, or null if it is neither. */
function parseInstant(v: string | number): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 && v < 1e11 ? Math.round(v * 1000) : null;
  if (/^\d{1,11}$/.test(v)) return Number(v) * 1000;
  if (!ISO_INSTANT.test(v)) return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : ms;
}
/** `not_before`: the first attempt's time (as QStash's Not-Before, Cloud Tasks' scheduleTime); unix ms once parsed. */
const notBefore = (json: boolean) =>
  (json ? z.union([z.number(), z.string()]) : z.string())
    .transform((v, ctx) => {
      const ms = parseInstant(v);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: NOT_BEFORE });
        return z.NEVER;
      }
      return ms;
    })
    .openapi({ description: 'the first attempt\'s time: unix seconds or an ISO 8601 instant (not with delay); a past time means now', example: '2026-12-24T18:00:00Z' });

const BACKOFF_KINDS = ['exponential', 'linear', 'fixed'] as const;
const backoff = z.enum(BACKOFF_KINDS, { error: `must be one of ${BACKOFF_KINDS.join(', ')}` });

/** A flow key: names the rate / parallelism limit a task's calls go through (see /flows). */
export const flowKey = pathName
  .openapi({ description: 'the flow (rate / parallelism limit, see /flows) the task goes through', example: 'customer-42' });

const jsonInt = (min: number, max: number) =>
  z.number({ error: 'must be a whole number' }).int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

/** A retry policy's fields (query string or JSON): within MIN_RETRY_DELAY..MAX_RETRY_DELAY. */
export function retryOptions(json: boolean) {
  const seconds = json ? jsonInt(1, MAX_DELAY) : wholeNumber(1, MAX_DELAY);
  return {
    retry_backoff: backoff.optional().openapi({ description: 'how the wait between attempts grows: exponential (min, 2 min, 4 min...), linear (min, 2 min, 3 min...) or fixed (min); default: linear after network errors, exponential after HTTP errors' }),
    retry_min_delay: seconds.optional().openapi({ description: 'seconds before the first retry, at least MIN_RETRY_DELAY (the default)' }),
    retry_max_delay: seconds.optional().openapi({ description: 'the longest wait between attempts, at most MAX_RETRY_DELAY (the default)' }),
  };
}

/** Task options shared by `POST /` (query string) and topic publishes. */
export const taskOptions = (limits: ApiLimits) => ({
  url: hookUrl.openapi({ example: 'https://example.com/hooks/send_welcome_email' }),
  method: hookMethod.optional().openapi({ description: 'default POST' }),
  timeout: wholeNumber(1, limits.MAX_TIMEOUT).optional().openapi({ description: 'seconds, 1..MAX_TIMEOUT (default DEFAULT_TIMEOUT)' }),
  delay: wholeNumber(0, MAX_DELAY).optional().openapi({ description: 'seconds before the first attempt' }),
  max_retries: wholeNumber(0, 100).optional().openapi({ description: 'default MAX_RETRIES' }),
  not_before: notBefore(false).optional(),
  flow_key: flowKey.optional(),
  callback: hookUrl.optional().openapi({ description: 'told of the outcome when the task completes (a new task; also the header Torque-Callback)' }),
  failure_callback: hookUrl.optional().openapi({ description: 'told of the outcome when the task fails for good (also the header Torque-Failure-Callback)' }),
  ...retryOptions(false),
});


/** A task described in JSON (a `POST /batch` item, a schedule's template). */
export const taskFields = (limits: ApiLimits) => z
  .object({
    url: hookUrl,
    method: hookMethod.optional(),
    headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a valid header name'), z.string().max(8192)).optional(),
    body: z.string().optional(),
    // Decoded here, so every string the pattern lets through but atob refuses ("a") is a 400 too.
    body_base64: z
      .string()
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
      .transform((s, ctx) => {
        try {
          return Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
        } catch {
          ctx.addIssue({ code: 'custom', message: `must be base64 (a length of ${s.replace(/=+$/, '').length} characters cannot be decoded)` });
          return z.NEVER;
        }
      })
      .optional(),
    timeout: jsonInt(1, limits.MAX_TIMEOUT).optional().openapi({ description: 'seconds, 1..MAX_TIMEOUT (default DEFAULT_TIMEOUT)' }),
    delay: jsonInt(0, MAX_DELAY).optional(),
    max_retries: jsonInt(0, 100).optional(),
    not_before: notBefore(true).optional(),
    idempotency_key: z.string().min(1).max(256).optional(),
    flow_key: flowKey.optional(),
    callback: hookUrl.optional(),
    failure_callback: hookUrl.optional(),
    ...retryOptions(true),
  });
const oneBody = { message: 'give body or body_base64, not both', path: ['body'] };

/** One item of `POST /batch`. */
export const BatchItem = (limits: ApiLimits) => taskFields(limits).strict().refine((i) => i.body === undefined || i.body_base64 === undefined, oneBody).openapi('BatchItem');

/** `POST /schedules`: a cron expression, its zone, and the template of the tasks it makes. */
export const ScheduleInput = (limits: ApiLimits) => taskFields(limits)
  .omit({ delay: true, not_before: true, idempotency_key: true, callback: true, failure_callback: true, retry_backoff: true, retry_min_delay: true, retry_max_delay: true })
  .extend({
    cron: z.string().min(1).max(200).openapi({ description: '5 fields: minute hour day-of-month month day-of-week', example: '0 9 * * MON-FRI' }),
    timezone: z.string().min(1).max(64).optional().openapi({ description: 'IANA time zone (default UTC); DST is handled', example: 'Europe/Berlin' }),
    name: z.string().min(1).max(200).optional(),
  })
  .strict()
  .refine((i) => i.body === undefined || i.body_base64 === undefined, oneBody)
  .openapi('ScheduleInput');

/**
 * `PATCH /schedules/{id}`: what to change (absent fields stay as they are; name, flow_key and body
 * may be null to clear them; headers, when given, replace all of them, Content-Type included).
 */
export const SchedulePatch = (limits: ApiLimits) => taskFields(limits)
  .pick({ url: true, method: true, headers: true, body_base64: true, timeout: true, max_retries: true })
  .partial()
  .extend({
    cron: z.string().min(1).max(200).optional(),
    timezone: z.string().min(1).max(64).optional(),
    name: z.string().min(1).max(200).nullable().optional(),
    flow_key: flowKey.nullable().optional(),
    body: z.string().nullable().optional(),
  })
  .strict()
  .refine((i) => i.body === undefined || i.body_base64 === undefined, oneBody)
  // Only when the fields themselves are fine: `{"bogus": 1}` is an unknown key, not an empty patch.
  .refine((i) => Object.keys(i).length > 0, { message: 'give at least one field to change', when: (p) => p.issues.length === 0 })
  .openapi('SchedulePatch');

/** Where a paged walk goes on from: a next_cursor from an earlier answer. */
export const cursorParam = z.string().max(64).regex(/^[0-9A-Z]+$/, 'must be a next_cursor from a previous answer').optional();
