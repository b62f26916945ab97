import { logEvent } from '../log';

// Enqueue paths: a refusal there is a task a client wanted stored and that was not.
const ENQUEUES = /^\/(batch|topics\/[^/]+)?$/;

/** Logs every refused enqueue (status, error code and message, never the body) as one structured event. */
export function logRefusals<E>(fetch: (req: Request, env: E, ctx: ExecutionContext) => Response | Promise<Response>) {
  return async (req: Request, env: E, ctx: ExecutionContext): Promise<Response> => {
    const res = await fetch(req, env, ctx);
    const path = new URL(req.url).pathname;
    if (res.status >= 400 && req.method === 'POST' && ENQUEUES.test(path)) {
      const error = await res.clone().json().then((b) => (b as { error?: { code?: string; message?: string } }).error, () => undefined);
      // The message says what was wrong (a field, a limit); cut short, as a log line should be.
      const message = error?.message?.slice(0, 300);
      logEvent('enqueue.refused', { path, status: res.status, code: error?.code, message, retry_after: res.headers.get('retry-after') }, res.status >= 500 ? 'error' : 'warn');
    }
    return res;
  };
}
