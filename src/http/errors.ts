import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

// Every expected failure goes through here, so every 4xx/5xx body has one shape:
// {"error": {"code": "...", "message": "..."}}.
export function apiError(
  status: ContentfulStatusCode,
  code: string,
  message: string,
  headers?: Record<string, string>,
): HTTPException {
  const res = new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return new HTTPException(status, { res, message });
}

/** A 404 naming what was asked for, e.g. `task 01J... not found` (another app's is not found either). */
export const notFound = (what: string, name?: string) => apiError(404, 'not_found', `${what}${name === undefined ? '' : ` ${name}`} not found`);
