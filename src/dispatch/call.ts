import type { TaskRow } from '../store/schema';
import { parseRetryAfter } from './backoff';
import { hookHeaders } from '../hook/headers';
import { hostRefusal, type HostPolicy } from '../hook/hosts';
import { signatureHeaders } from '../hook/sign';
import { signQstash, takeQstashMark } from '../hook/qstash';

const RESPONSE_LOG_BYTES = 1024;

export interface AttemptResult {
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  /** Error kind and detail for attempts that got no HTTP answer, e.g. "timeout: ...". */
  error: string | null;
  /** The first RESPONSE_LOG_BYTES of the answer as text (for the attempt log). */
  response: string | null;
  /** The same bytes as they came (a callback reports them exactly, binary or not). */
  responseBytes?: Uint8Array | null;
  /**
   * blocked: the host policy refused the URL (or a redirect's target). invalid: the request could
   * not even be built from the stored task (it never will be: the task fails at once).
   * internal: something threw while the attempt ran; it is this task's failed attempt, retried.
   */
  outcome: 'ok' | 'network' | 'http' | 'gone' | 'blocked' | 'invalid' | 'internal';
  retryAfter: number | null;
}

const utf8 = new TextDecoder();

/** Reads at most `limit` bytes of a body, then cancels the rest (an endless body cannot pin us). */
async function readHead(res: Response, limit: number): Promise<Uint8Array> {
  const body = res.body;
  if (!body) return new Uint8Array(0);
  // A short body of known length is read whole (the runtime holds it to its length): the usual
  // answer, and cheaper than a reader. Not when compressed: the length is then the compressed
  // one, and a kilobyte of gzip can unpack to a megabyte.
  const length = res.headers.get('content-length');
  if (length && /^\d{1,4}$/.test(length) && Number(length) <= limit && !res.headers.has('content-encoding')) return new Uint8Array(await res.arrayBuffer()).subarray(0, limit);
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) (all.set(p, at), (at += p.length));
  return all.subarray(0, limit);
}

/**
 * The error kind of an attempt that got no complete answer. What is known for sure is when it
 * failed: before any answer (`connection`: refused, unreachable, dropped before answering) or
 * after the status line, while the body came (`reset`). workerd reports refused and dropped
 * connections alike ("Network connection lost") and DNS and TLS failures as an opaque internal
 * error, so `dns`, `tls` and `refused` are named only when the runtime's message says so.
 */
function describe(err: unknown, timedOut: boolean, answered: boolean): string {
  if (timedOut) return 'timeout: no complete answer within the task timeout';
  const msg = err instanceof Error ? err.message : String(err);
  if (answered) return `reset: the connection dropped while the answer was being read (${msg})`;
  if (/dns|resolve|not known|ENOTFOUND|getaddrinfo/i.test(msg)) return `dns: ${msg}`;
  if (/certificate|tls|ssl|handshake/i.test(msg)) return `tls: ${msg}`;
  if (/refused|ECONNREFUSED/i.test(msg)) return `refused: ${msg}`;
  return `connection: no answer (refused, unreachable or dropped before answering): ${msg}`;
}

/** An attempt that threw inside Torque: recorded as the task's own failure, kind `internal`. */
export function internalFailure(err: unknown, startedAt: number): AttemptResult {
  const message = err instanceof Error ? err.message : String(err);
  return { startedAt, durationMs: Date.now() - startedAt, statusCode: null, error: `internal: ${message}`, response: null, outcome: 'internal', retryAfter: null };
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/**
 * Calls the hook once, within the task's timeout, and classifies what happened.
 * Redirects are followed by hand (not by fetch) so that every hop is checked against the host
 * policy; the method and body change exactly as fetch would change them (303, and 301/302 after a
 * POST, become a bodyless GET; 307/308 keep both), and credentials are not carried cross-origin.
 */
export async function callHook(task: TaskRow, signingSecret: string | undefined, policy: HostPolicy, qstashKey?: (appId: string) => Promise<string>): Promise<AttemptResult> {
  const startedAt = Date.now();
  let headers: Headers;
  let body: Uint8Array | null;
  let qstash = false; // a /v2 task: also signed the QStash way (src/hook/qstash.ts), with this key
  let qstashSecret: string | undefined;
  const sign = async (headers: Headers, body: Uint8Array | null) => {
    if (qstashSecret) await signQstash(headers, task, qstashSecret, body, Math.floor(startedAt / 1000));
    if (!signingSecret) return;
    const sig = await signatureHeaders(signingSecret, task.id, Math.floor(startedAt / 1000), body);
    for (const [k, v] of Object.entries(sig)) headers.set(k, v);
  };
  try {
    headers = hookHeaders(task);
    qstash = takeQstashMark(headers);
    new Request(task.url, { method: task.method }); // a URL or method fetch would refuse, refused now
    body = task.method === 'GET' || !task.body ? null : new Uint8Array(task.body);
  } catch (err) {
    // Same stored task, same failure next time: it fails now rather than after every retry.
    return { ...internalFailure(err, startedAt), outcome: 'invalid' };
  }
  try {
    if (qstash && qstashKey) qstashSecret = await qstashKey(task.appId);
  } catch (err) {
    // The key could not be read now (storage trouble): this attempt fails and is retried.
    return internalFailure(err, startedAt);
  }
  try {
    await sign(headers, body);
  } catch (err) {
    return { ...internalFailure(err, startedAt), outcome: 'invalid' };
  }
  const controller = new AbortController();
  let timedOut = false;
  let answered = false; // the status line came: a failure from here on is a reset mid-answer
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, task.timeout * 1000);
  const finish = (r: Omit<AttemptResult, 'startedAt' | 'durationMs'>): AttemptResult => ({
    startedAt,
    durationMs: Date.now() - startedAt,
    ...r,
  });
  try {
    let url = task.url;
    let method = task.method;
    for (let hop = 0; ; hop++) {
      const refusal = hostRefusal(url, policy);
      if (refusal) return finish({ statusCode: null, error: `blocked: ${refusal}`, response: null, outcome: 'blocked', retryAfter: null });
      const res = await fetch(url, { method, headers, body, redirect: 'manual', signal: controller.signal });
      const location = res.headers.get('location');
      if (REDIRECTS.has(res.status) && location && hop < MAX_REDIRECTS) {
        await res.body?.cancel();
        const next = new URL(location, url);
        if (next.origin !== new URL(url).origin) for (const h of ['authorization', 'cookie']) headers.delete(h);
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
          method = 'GET';
          body = null;
          headers.delete('content-type');
          await sign(headers, null); // the signature must cover what is sent now: no body
        }
        url = next.toString();
        continue;
      }
      answered = true;
      const responseBytes = await readHead(res, RESPONSE_LOG_BYTES);
      const response = utf8.decode(responseBytes);
      const code = res.status;
      const outcome = code >= 200 && code < 300 ? 'ok' : code === 410 ? 'gone' : 'http';
      const retryAfter = code === 429 || code === 503 ? parseRetryAfter(res.headers.get('retry-after')) : null;
      return finish({ statusCode: code, error: null, response, responseBytes, outcome, retryAfter });
    }
  } catch (err) {
    return finish({ statusCode: null, error: describe(err, timedOut, answered), response: null, outcome: 'network', retryAfter: null });
  } finally {
    clearTimeout(timer);
  }
}
