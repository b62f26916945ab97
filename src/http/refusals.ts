import { logEvent } from '../log';

// Enqueue paths: a refusal there is a task a client wanted stored and that was not.
const ENQUEUES = /^\/(batch|topics\/[^/]+)?$/;

/** Logs every refused enqueue (status and error code, never the body) as one structured event. */
export function logRefusals<E>(fetch: (req: Request, env: E, ctx: ExecutionContext) => Response | Promise<Response>) {
  return async (req: Request, env: E, ctx: ExecutionContext): Promise<Response> => {
    const res = await fetch(req, env, ctx);
    const path = new URL(req.url).pathname;
    if (res.status >= 400 && req.method === 'POST' && ENQUEUES.test(path)) {
      const code = await res.clone().json().then((b) => (b as { error?: { code?: string } }).error?.code, () => undefined);
      logEvent('enqueue.refused', { path, status: res.status, code, retry_after: res.headers.get('retry-after') }, res.status >= 500 ? 'error' : 'warn');
    }
    return res;
  };
}
