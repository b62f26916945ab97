import type { OpenAPIHono } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import { apiError } from './errors';
import { declarations } from './route-table';
import type { AppEnv } from './types';

// Unknown query parameters are refused, never ignored: `DELETE /?stauts=failed` must not delete
// every task, nor `POST /?url=...&max_retry=3` keep the default retries. The parameters a route
// takes are read from the route table itself (the zod query schema each route declares), so a
// route cannot be added without its parameters being known here.

/** The names in a raw query string, in order, decoded as URLSearchParams would. */
function namesInOrder(search: string): { name: string; value: string }[] {
  return search.replace(/^\?/, '').split('&').filter(Boolean).map((part) => {
    const eq = part.indexOf('=');
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    return { name: decode(eq < 0 ? part : part.slice(0, eq)), value: eq < 0 ? '' : part.slice(eq + 1) };
  });
}

const ENCODE_HINT = "the hook URL's own query string must be URL-encoded, or its parameters are read as Torque's "
  + "(curl: --url-query 'url=https://example.com/hook?a=1&b=2', or -G --data-urlencode when there is no body; Python requests: params={'url': ...}; JavaScript: new URLSearchParams({ url }))";

/**
 * Refuses a request whose query string holds a parameter its route does not declare (400, naming
 * each one). `url` given with an unencoded `?` of its own and followed by more parameters is
 * refused too: those parameters were most likely meant for the hook, not for Torque.
 */
export function refuseUnknownParams(app: OpenAPIHono<AppEnv>) {
  const declaredFor = declarations(app);
  return createMiddleware<AppEnv>(async (c, next) => {
    const search = new URL(c.req.url).search;
    const route = search.length > 1 ? declaredFor(c) : undefined;
    // QStash's protocol (/v2) puts the destination's own query string in the path of a publish,
    // so its sub-app reads and checks its query strings itself.
    if (!route || route.path.startsWith('/v2/')) return next();
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    const known = Object.keys((route.declared?.request?.query as { shape?: object } | undefined)?.shape ?? {});
    const given = namesInOrder(search);
    const unknown = [...new Set(given.map((p) => p.name).filter((n) => !known.includes(n)))];
    const urlAt = given.findIndex((p) => p.name === 'url');
    const afterUrl = urlAt < 0 ? [] : given.slice(urlAt + 1).map((p) => p.name);
    const where = `${method} ${route.path.replace(/:([^/]+)/g, '{$1}')}`;
    if (unknown.length) {
      const list = unknown.map((n) => (n === '' ? '(an empty name)' : n)).join(', ');
      const takes = known.length ? `it takes ${known.join(', ')}` : 'it takes none';
      const unencoded = urlAt >= 0 && given[urlAt].value.includes('?');
      // After a url with an unencoded '?', they most likely are the hook's; after a plain url, maybe a typo.
      const hint = unknown.some((n) => afterUrl.includes(n)) ? `; ${list} came after url: ${unencoded ? '' : 'if they belong to the hook, '}${ENCODE_HINT}` : '';
      throw apiError(400, 'invalid_request', `unknown query parameter${unknown.length > 1 ? 's' : ''} for ${where}: ${list} (${takes})${hint}`);
    }
    if (urlAt >= 0 && afterUrl.length && given[urlAt].value.includes('?')) {
      throw apiError(400, 'invalid_request', `url: holds an unencoded "?" and is followed by ${afterUrl.join(', ')}, which may belong to the hook's query string or to Torque: ${ENCODE_HINT}`);
    }
    await next();
  });
}
