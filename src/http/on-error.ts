import type { ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ConfigError } from '../config';
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

/**
 * What a D1 failure means for the client. Only a transient one (overloaded, busy, the connection
 * lost or reset, timed out, unavailable) is worth retrying: 503 + Retry-After. A deterministic
 * one (a constraint, a value too big, an SQL bug) fails the same way every time, so it is a 500
 * that says so, and a database without Torque's tables says how to migrate it.
 */
function storageFailure(err: unknown): 'transient' | 'not_migrated' | 'deterministic' | null {
  const messages: string[] = [];
  for (let e = err; e instanceof Error; e = e.cause) messages.push(e.message);
  const text = messages.join(' | ');
  if (/no such table/i.test(text)) return 'not_migrated';
  if (/overloaded|SQLITE_BUSY|database is locked|Network connection lost|connection reset|reset because|timed? ?out|unavailable|try again/i.test(text)) return 'transient';
  if (/D1_|SQLITE_|constraint|too (big|large)|no such column|syntax error/i.test(text)) return 'deterministic';
  return null;
}

const HONO_CODES: Record<number, string> = { 400: 'invalid_request', 403: 'forbidden', 413: 'body_too_large', 415: 'unsupported_media_type' };
const HONO_MESSAGES: Record<number, string> = { 403: 'cross-site form submissions are refused (Origin does not match)' };

/** The one error path: every failure becomes the JSON error shape (see errors.ts). */
export const handleError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof HTTPException) {
    if (err.res?.headers.get('content-type')?.includes('application/json')) return err.getResponse();
    // Thrown by Hono or its middleware (malformed JSON, CSRF refusal...): same JSON shape as ours.
    const code = HONO_CODES[err.status] ?? 'error';
    const message = err.status === 400 && /json/i.test(err.message) ? `body: ${err.message}` : err.message || HONO_MESSAGES[err.status] || code;
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
  const storage = storageFailure(err);
  if (storage === 'transient') {
    return apiError(503, 'storage_unavailable', 'storage is unavailable; retry shortly', { 'retry-after': '5' }).getResponse();
  }
  if (storage === 'not_migrated') {
    return apiError(500, 'not_migrated', "the database has no Torque tables: apply the migrations (npm run dev does it locally; see the README's deploy steps)").getResponse();
  }
  if (storage === 'deterministic') {
    return apiError(500, 'storage_error', 'storage refused this request and would refuse it again (not worth retrying); the log has the details').getResponse();
  }
  return apiError(500, 'internal', 'internal error').getResponse();
};
