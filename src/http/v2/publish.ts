import type { Context } from 'hono';
import { QSTASH_LABEL, QSTASH_MARK, QSTASH_RETRY_DELAY } from '../../hook/qstash';
import { getFlow, putFlow } from '../../store/flows';
import type { NewTaskRow } from '../../store/schema';
import { getTopic } from '../../store/topics';
import { buildTask, TaskInputError } from '../../tasks/enqueue';
import { apiError } from '../errors';
import type { AppEnv } from '../types';
import type { PublishOptions } from './headers';

// Publishing through /v2: a QStash message is a Torque task (same rows, same delivery), built by
// the native enqueue's own buildTask; this file only translates QStash's options into its input.

/** QStash's default retries (Torque's own default, MAX_RETRIES, is for the native API). */
export const QSTASH_DEFAULT_RETRIES = 3;

export type Destination = { url: string; topic?: undefined } | { topic: string; endpoints: string[]; url?: undefined };

/** `/v2/publish/<destination>`: a URL (unencoded, its query string included) or a URL group (topic) name. */
export async function resolveDestination(c: Context<AppEnv>, raw: string): Promise<Destination> {
  let dest = raw;
  if (/^https?%3A/i.test(dest)) dest = decodeURIComponent(dest);
  if (/^https?:\/\//i.test(dest)) {
    try {
      new URL(dest);
    } catch {
      throw apiError(400, 'invalid_request', `destination: "${dest}" is not a valid URL`);
    }
    return { url: dest };
  }
  if (/^api\/|^v1\//.test(dest)) throw apiError(501, 'not_implemented', 'destination: Torque does not call LLM or email APIs for you (publish to a URL of your own instead)');
  if (!/^[A-Za-z0-9._:@-]{1,128}$/.test(dest)) throw apiError(400, 'invalid_request', `destination: must be an http(s) URL or a URL group name, got "${raw}"`);
  const topic = await getTopic(c.get('db'), c.get('app'), dest);
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
  if (o.deduplicationId !== undefined) return `qstash:${o.deduplicationId}`;
  if (!o.contentBasedDeduplication) return undefined;
  const headers = Object.entries(o.forward).sort().map(([k, v]) => `${k}:${v}`).join('\n');
  return `qstash-content:${await sha256Hex([dest, o.method ?? 'POST', o.contentType ?? '', headers, body])}`;
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
export async function messageRows(c: Context<AppEnv>, dest: Destination, o: PublishOptions, body: Uint8Array | null, now: number, field = '') {
  const delay = o.notBefore !== undefined ? Math.max(0, Math.ceil(o.notBefore - now / 1000)) : o.delay;
  const key = await dedupKey(dest.url ?? dest.topic, o, body);
  const urls = dest.url !== undefined ? [dest.url] : dest.endpoints;
  if (urls.length === 0) throw apiError(400, 'invalid_request', `${field}destination: URL group "${dest.topic}" has no endpoints`);
  return urls.map((url, i) => {
    const prefix = dest.topic !== undefined ? `${field}endpoints[${i}].` : field;
    let row: Omit<NewTaskRow, 'id'>;
    try {
      row = buildTask(c.get('config'), c.get('app'), {
        url, method: o.method, timeout: o.timeout, delay, max_retries: o.retries ?? QSTASH_DEFAULT_RETRIES,
        headers: o.forward, body, contentType: o.contentType,
        idempotencyKey: key && (dest.topic !== undefined ? `${key}#${url}` : key),
        flowKey: o.flowKey, callback: o.callback, failureCallback: o.failureCallback,
      }, now, prefix);
    } catch (err) {
      throw asHeaders(err, prefix);
    }
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
 * wins); written only when it changes, so a steady stream of messages costs one read each.
 */
export async function applyFlow(c: Context<AppEnv>, o: PublishOptions, now: number) {
  if (!o.flowKey || !o.flow) return;
  const had = await getFlow(c.get('db'), c.get('app'), o.flowKey);
  if (had && had.rate === o.flow.rate && had.parallelism === o.flow.parallelism && had.period === o.flow.period) return;
  await putFlow(c.get('db'), c.get('app'), o.flowKey, o.flow, now);
}
