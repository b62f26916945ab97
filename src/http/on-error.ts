import type { ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ConfigError } from '../config';
import { d1Failure, RETRY_AFTER_S } from '../store/errors';
import { TaskInputError } from '../tasks/enqueue';
import { apiError } from './errors';
import type { AppEnv } from './types';

// Validation failures from every route become one 400 that names each bad field.
export const defaultHook = (result: { success: boolean; error?: unknown }) => {
  if (result.success) return;
  const issues = (result.error as { issues?: { path: PropertyKey[]; message: string }[] }).issues ?? [];
  const path = (p: PropertyKey[]) => p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('').replace(/^\./, '');
  const message = issues.map((i) => `${path(i.path) || 'request'}: ${i.message}`).join('; ');
  throw apiError(400, 'invalid_request', message || 'invalid request');
};

const HONO_CODES: Record<number, string> = { 400: 'invalid_request', 403: 'forbidden', 413: 'body_too_large', 415: 'unsupported_media_type' };
const HONO_MESSAGES: Record<number, string> = {
  403: 'cross-site form submissions are refused (Origin does not match)',
  415: 'the body must be JSON: send it with Content-Type: application/json',
};

/** The one error path: every failure becomes the JSON error shape (see errors.ts). */
export const handleError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof HTTPException) {
    if (err.res?.headers.get('content-type')?.includes('application/json')) return err.getResponse();
    // Thrown by Hono or its middleware (malformed JSON, CSRF refusal...): same JSON shape as ours.
    const code = HONO_CODES[err.status] ?? 'error';
    // Hono's own wording is its status text ("Unsupported Media Type"): ours says what to send.
    const message = err.status === 400 && /json/i.test(err.message) ? `body: ${err.message}` : HONO_MESSAGES[err.status] ?? (err.message || code);
    return apiError(err.status, code, message).getResponse();
  }
  if (err instanceof TaskInputError) {
    return apiError(err.tooLarge ? 413 : 400, err.tooLarge ? 'body_too_large' : 'invalid_request', err.message).getResponse();
  }
  if (err instanceof ConfigError) {
    console.error(err.message);
    return apiError(500, 'misconfigured', err.message).getResponse();
  }
  console.error('unhandled error', c.req.method, c.req.path, err);
  // D1's documented errors, classified in one place (store/errors.ts) for the API, consumer and sweeper.
  const storage = d1Failure(err);
  if (storage === 'transient') {
    return apiError(503, 'storage_unavailable', 'storage is unavailable; retry shortly', { 'retry-after': String(RETRY_AFTER_S) }).getResponse();
  }
  if (storage === 'not_migrated') {
    return apiError(500, 'not_migrated', "the database has no Torque tables: apply the migrations (npm run dev does it locally; see the README's deploy steps)").getResponse();
  }
  if (storage === 'deterministic') {
    return apiError(500, 'storage_error', 'storage refused this request and would refuse it again (not worth retrying); the log has the details').getResponse();
  }
  return apiError(500, 'internal', 'internal error').getResponse();
};
