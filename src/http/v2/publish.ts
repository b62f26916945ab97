import type { Context } from 'hono';
import { QSTASH_LABEL, QSTASH_MARK, QSTASH_RETRY_DELAY } from '../../hook/qstash';
import { setFlowsIfChanged } from '../../flow/limits';
import type { Scope } from '../../scope';
import type { NewTaskRow } from '../../store/schema';
import { getTopic } from '../../store/topics';
import { buildTask, TaskInputError } from '../../tasks/enqueue';
import { apiError } from '../errors';
import type { AppEnv } from '../types';
import { pathName } from '../routes/params';
import type { PublishOptions } from './headers';

// Publishing through /v2: a QStash message is a Torque task (same rows, same delivery), built by
// the native enqueue's own buildTask; this file only translates QStash's options into its input.

/** QStash's default retries (Torque's own default, MAX_RETRIES, is for the native API). */
const QSTASH_DEFAULT_RETRIES = 3;

export type Destination = { url: string; topic?: undefined } | { topic: string; endpoints: string[]; url?: undefined };

/**
 * The destination in a request's path after `marker` (`/publish/`, `/schedules/`), its query string
 * included. Dot segments are removed from a path before Torque sees it (by the client's URL parser
 * or the runtime, `%2E%2E` too), so `https://a.com/x/../../b.com/p` would arrive as
 * `https://b.com/p`: a destination whose raw form differs from the path Torque routed is refused,
 * as is one that still holds dot segments (decodeDestination), never called somewhere else.
 * (workerd, as `wrangler dev` runs it, hands the Worker the path already normalised, so there the
 * raw form cannot be seen: only a URL-encoded destination keeps its dot segments for the check.)
 */
export function pathDestination(c: Context<AppEnv>, marker: string): string {
  const url = new URL(c.req.url);
  const path = url.pathname.slice(url.pathname.indexOf(marker) + marker.length);
  const raw = c.req.raw.url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').replace(/[?#].*$/, '');
  const at = raw.indexOf(marker);
  if (at < 0 || raw.slice(at + marker.length) !== path) throw notEncoded();
  return path + url.search;
}

const notEncoded = () => apiError(400, 'invalid_request', 'destination: holds dot segments (/./ or /../), which URLs drop on the way so that it would name another URL; URL-encode the destination (encodeURIComponent) and give it without them');
// A path segment that is `.` or `..`, spelt plainly or percent-encoded.
const DOT_SEGMENT = /\/(\.|%2e){1,2}(\/|$)/i;

/** A destination as given (a URL, percent-encoded or not, or a URL group name), decoded and checked. */
export function decodeDestination(raw: string): string {
  let dest = raw;
  if (/^https?%3A/i.test(dest)) {
    try {
      dest = decodeURIComponent(dest);
    } catch {
      throw apiError(400, 'invalid_request', 'destination: malformed percent-encoding');
    }
  }
  if (/^https?:\/\//i.test(dest) && DOT_SEGMENT.test(dest.replace(/^https?:\/\//i, '/').replace(/[?#].*$/, ''))) throw notEncoded();
  return dest;
}

/** `/v2/publish/<destination>`: a URL (unencoded, its query string included) or a URL group (topic) name. */
export async function resolveDestination(c: Context<AppEnv>, raw: string): Promise<Destination> {
  const dest = decodeDestination(raw);
  if (/^https?:\/\//i.test(dest)) {
    try {
      new URL(dest);
    } catch {
      throw apiError(400, 'invalid_request', `destination: "${dest}" is not a valid URL`);
    }
    return { url: dest };
  }
  if (/^api\/|^v1\//.test(dest)) throw apiError(501, 'not_implemented', 'destination: Torque does not call LLM or email APIs for you (publish to a URL of your own instead)');
  const named = pathName.safeParse(dest);
  if (!named.success) throw apiError(400, 'invalid_request', `destination: must be an http(s) URL or a URL group name (a name ${named.error.issues[0].message}), got "${raw}"`);
  const topic = await getTopic(c.get('db'), c.get('appId'), dest);
  if (!topic) throw apiError(404, 'not_found', `URL group (topic) "${dest}" not found`);
  return { topic: dest, endpoints: topic.endpoints };
}

async function sha256Hex(parts: (string | Uint8Array | null)[]): Promise<string> {
  const enc = new TextEncoder();
  const all = parts.map((p) => (p === null ? new Uint8Array() : typeof p === 'string' ? enc.encode(p) : p));
  const joined = new Uint8Array(all.reduce((n, p) => n + p.length + 1, 0));
  let at = 0;
  for (const p of all) (joined.set(p, at), (at += p.length + 1)); // a zero byte between parts
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', joined));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The deduplication key of a message: its id, or a hash of destination, method, headers and body. */
async function dedupKey(dest: string, o: PublishOptions, body: Uint8Array | null): Promise<string | undefined> {
  if (o.deduplicationId !== undefined && !/^[^\x00-\x1f\x7f]{1,256}$/.test(o.deduplicationId)) {
    throw apiError(400, 'invalid_request', 'Upstash-Deduplication-Id: must be 1 to 256 characters, none of them a control character');
  }
  // In a namespace no native Idempotency-Key can reach (client keys hold no control characters).
  if (o.deduplicationId !== undefined) return `\u0001qstash\n${o.deduplicationId}`;
  if (!o.contentBasedDeduplication) return undefined;
  const headers = Object.entries(o.forward).sort().map(([k, v]) => `${k}:${v}`).join('\n');
  return `\u0001qstash-content\n${await sha256Hex([dest, o.method ?? 'POST', o.contentType ?? '', headers, body])}`;
}

// buildTask names native fields; a /v2 client sent headers, so its 4xx names those.
const HEADER_OF: [RegExp, string][] = [
  [/^timeout$/, 'Upstash-Timeout'], [/^url$/, 'destination'], [/^callback$/, 'Upstash-Callback'],
  [/^failure_callback$/, 'Upstash-Failure-Callback'], [/^content-type$/, 'Content-Type'], [/^headers\.(.+)$/, 'Upstash-Forward-$1'],
];
function asHeaders(err: unknown, prefix: string): unknown {
  if (!(err instanceof TaskInputError) || !err.field.startsWith(prefix)) return err;
  const field = err.field.slice(prefix.length);
  const hit = HEADER_OF.find(([re]) => re.test(field));
  if (!hit) return err;
  return new TaskInputError(`${prefix}${field.replace(hit[0], hit[1])}`, err.message.slice(err.field.length + 2), err.tooLarge);
}

/**
 * The task rows of one message (one per endpoint for a URL group), checked by buildTask exactly as
 * native tasks are. The stored headers carry the forwarded ones, the QStash mark (signing), the
 * label and the URL group's name (sent as Upstash-Topic-Name).
 */
export async function messageRows(s: Scope, m: { dest: Destination; o: PublishOptions; body: Uint8Array | null }, at: { now: number; field?: string }) {
  const { dest, o, body } = m;
  const { now, field = '' } = at;
  const delay = o.notBefore !== undefined ? Math.max(0, Math.ceil(o.notBefore - now / 1000)) : o.delay;
  const key = await dedupKey(dest.url ?? dest.topic, o, body);
  const urls = dest.url !== undefined ? [dest.url] : dest.endpoints;
  if (urls.length === 0) throw apiError(400, 'invalid_request', `${field}destination: URL group "${dest.topic}" has no endpoints`);
  return urls.map((url, i) => {
    const prefix = dest.topic !== undefined ? `${field}endpoints[${i}].` : field;
    let row: Omit<NewTaskRow, 'id'>;
    try {
      row = buildTask(s, {
        url, method: o.method, timeout: o.timeout, delay, max_retries: o.retries ?? QSTASH_DEFAULT_RETRIES,
        headers: o.forward, body, contentType: o.contentType,
        flowKey: o.flowKey, callback: o.callback, failureCallback: o.failureCallback,
      }, { now, field: prefix });
    } catch (err) {
      throw asHeaders(err, prefix);
    }
    // Set after buildTask, which holds client keys to printable text: this one is Torque's own.
    row.idempotencyKey = key && (dest.topic !== undefined ? `${key}#${url}` : key);
    row.headers = JSON.stringify({
      ...o.forward, [QSTASH_MARK]: '1',
      ...(o.label !== undefined ? { [QSTASH_LABEL]: o.label } : {}),
      ...(o.retryDelay !== undefined ? { [QSTASH_RETRY_DELAY]: o.retryDelay } : {}),
      ...(dest.topic !== undefined ? { 'upstash-topic-name': dest.topic } : {}),
    });
    return row;
  });
}

/**
 * Upstash-Flow-Control-Value sets the key's limits, as QStash does (the latest message's value
 * wins, so a request's messages set each key once); written only when it changes, so a steady
 * stream of messages costs one read per key.
 */
export async function applyFlows(s: Scope, options: PublishOptions[], now: number) {
  const latest = new Map<string, NonNullable<PublishOptions['flow']>>();
  for (const o of options) if (o.flowKey && o.flow) latest.set(o.flowKey, o.flow);
  await setFlowsIfChanged(s, latest, now);
}
