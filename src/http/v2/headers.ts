import type { Context } from 'hono';
import { compileRetryDelay } from '../../hook/retry-delay';
import { apiError } from '../errors';
import type { z } from 'zod';
import { flowKey as flowKeySchema, MAX_DELAY, METHODS } from '../routes/params';

// What QStash's Upstash-* request headers ask for, read into plain values (times in seconds). Every
// value that cannot be read is a 400 naming the header: nothing a client sends is guessed at.

const bad = (header: string, message: string) => apiError(400, 'invalid_request', `${header}: ${message}`);

/** A name checked by one of the native API's schemas (params.ts: pathName, flowKey), or a 400 naming where it came from. */
export function checkName(schema: z.ZodType<string>, value: string, where: string): string {
  const r = schema.safeParse(value);
  if (!r.success) throw bad(where, r.error.issues[0].message);
  return r.data;
}

/** What Upstash-Label may hold (it is stored with each message's headers). */
const MAX_LABEL = 128;

const UNIT_S: Record<string, number> = { d: 86_400, h: 3600, m: 60, s: 1, ms: 0.001 };

/**
 * A QStash duration in seconds: "10s", "5m", "1d2h", "1h30m10s", "1500ms", or a bare number of
 * seconds ("10"). Milliseconds round up to a whole second (Torque's clock for due times is ms, but
 * its delays are whole seconds like QStash's own smallest unit).
 */
export function parseDuration(value: string, header: string): number {
  const v = value.trim();
  if (/^\d{1,12}$/.test(v)) return Number(v);
  const parts = [...v.matchAll(/(\d{1,12})(ms|d|h|m|s)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== v) {
    throw bad(header, `must be a duration such as 10s, 5m, 1h30m or 1d2h (units d, h, m, s, ms), got "${value}"`);
  }
  const seen = new Set<string>();
  let total = 0;
  for (const [, n, unit] of parts) {
    if (seen.has(unit)) throw bad(header, `names the unit "${unit}" twice in "${value}"`);
    seen.add(unit);
    total += Number(n) * UNIT_S[unit];
  }
  return Math.ceil(total);
}

export type FlowValue = { parallelism: number | null; rate: number | null; period: number };

/** Upstash-Flow-Control-Value: "parallelism=N, rate=N, period=1s" (any of them, in any order). */
export function parseFlowValue(value: string): FlowValue {
  const h = 'Upstash-Flow-Control-Value';
  const out: FlowValue = { parallelism: null, rate: null, period: 1 };
  const seen = new Set<string>();
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = part.match(/^(parallelism|rate|period)\s*=\s*(\S+)$/i);
    if (!m) throw bad(h, `must list parallelism=N, rate=N and/or period=<duration>, got "${part}"`);
    const name = m[1].toLowerCase();
    if (seen.has(name)) throw bad(h, `gives ${name} twice`);
    seen.add(name);
    if (name === 'period') {
      out.period = parseDuration(m[2], `${h} period`);
      if (out.period < 1 || out.period > 86_400) throw bad(h, 'period must be 1s to 1d (Torque flows count starts per 1 to 86,400 seconds)');
    } else {
      if (!/^\d{1,6}$/.test(m[2]) || Number(m[2]) < 1) throw bad(h, `${name} must be a whole number of at least 1, got "${m[2]}"`);
      const n = Number(m[2]);
      if (name === 'rate' && n > 100_000) throw bad(h, 'rate must be at most 100000');
      if (name === 'parallelism' && n > 10_000) throw bad(h, 'parallelism must be at most 10000');
      out[name as 'rate' | 'parallelism'] = n;
    }
  }
  if (out.parallelism === null && out.rate === null) throw bad(h, 'give parallelism, rate or both');
  return out;
}

const URLISH = /^https?:\/\/[^\s]+$/;
const FORWARD = 'upstash-forward-';

/** What a publish (or a batch item, or a schedule) asks for, from its headers. */
export type PublishOptions = {
  method?: string;
  delay?: number;
  notBefore?: number; // unix seconds
  retries?: number;
  retryDelay?: string;
  callback?: string;
  failureCallback?: string;
  timeout?: number;
  deduplicationId?: string;
  contentBasedDeduplication: boolean;
  flowKey?: string;
  flow?: FlowValue;
  label?: string;
  forward: Record<string, string>;
  contentType: string | null;
};

/** Reads a publish's Upstash-* headers (and Content-Type); anything else the client sent stays behind. */
export function publishOptions(get: (name: string) => string | null | undefined, names: Iterable<string>): PublishOptions {
  const h = (name: string) => get(name) ?? undefined;
  const method = h('upstash-method')?.trim().toUpperCase();
  if (method !== undefined && !(METHODS as readonly string[]).includes(method)) throw bad('Upstash-Method', `must be one of ${METHODS.join(', ')}`);
  const delay = h('upstash-delay') === undefined ? undefined : parseDuration(h('upstash-delay')!, 'Upstash-Delay');
  if (delay !== undefined && delay > MAX_DELAY) throw bad('Upstash-Delay', `must be at most ${MAX_DELAY} seconds (365 days)`);
  const nb = h('upstash-not-before');
  if (nb !== undefined && !/^\d{1,12}$/.test(nb.trim())) throw bad('Upstash-Not-Before', 'must be a unix time in seconds');
  const retries = h('upstash-retries');
  if (retries !== undefined && (!/^\d{1,3}$/.test(retries.trim()) || Number(retries) > 100)) throw bad('Upstash-Retries', 'must be a whole number from 0 to 100');
  for (const name of ['upstash-callback', 'upstash-failure-callback']) {
    const v = h(name);
    if (v !== undefined && !URLISH.test(v)) throw bad(name.replace(/(^|-)\w/g, (s) => s.toUpperCase()), 'must be an absolute http: or https: URL');
  }
  const timeout = h('upstash-timeout') === undefined ? undefined : parseDuration(h('upstash-timeout')!, 'Upstash-Timeout');
  if (timeout === 0) throw bad('Upstash-Timeout', 'must be at least 1s');
  const retryDelay = h('upstash-retry-delay');
  if (retryDelay !== undefined) {
    try {
      compileRetryDelay(retryDelay);
    } catch (err) {
      throw bad('Upstash-Retry-Delay', `${(err as Error).message} (an expression in ms over retried, e.g. 1000 * (1 + retried) or max(10, pow(2, retried)))`);
    }
  }
  const flowKey = h('upstash-flow-control-key');
  const flowValue = h('upstash-flow-control-value');
  if (flowKey !== undefined) checkName(flowKeySchema, flowKey, 'Upstash-Flow-Control-Key');
  if (flowValue !== undefined && flowKey === undefined) throw bad('Upstash-Flow-Control-Value', 'needs Upstash-Flow-Control-Key');
  const label = h('upstash-label');
  if (label !== undefined && label.length > MAX_LABEL) throw bad('Upstash-Label', `must be at most ${MAX_LABEL} characters, got ${label.length}`);
  const dedup = h('upstash-deduplication-id');
  if (dedup !== undefined && (dedup.length < 1 || dedup.length > 200)) throw bad('Upstash-Deduplication-Id', 'must be 1 to 200 characters');
  const forward: Record<string, string> = {};
  for (const name of names) {
    const lower = name.toLowerCase();
    if (lower.startsWith(FORWARD) && lower.length > FORWARD.length) forward[lower.slice(FORWARD.length)] = get(name)!;
  }
  const queue = h('upstash-queue-name');
  if (queue !== undefined) throw apiError(501, 'not_implemented', 'Upstash-Queue-Name: Torque has no ordered queues (parallelism=1 flow control is the nearest: Upstash-Flow-Control-Key with parallelism=1)');
  return {
    method, delay, retries: retries === undefined ? undefined : Number(retries), timeout, retryDelay,
    notBefore: nb === undefined ? undefined : Number(nb),
    callback: h('upstash-callback'), failureCallback: h('upstash-failure-callback'),
    deduplicationId: dedup, contentBasedDeduplication: h('upstash-content-based-deduplication')?.trim().toLowerCase() === 'true',
    flowKey, flow: flowValue === undefined ? undefined : parseFlowValue(flowValue),
    label, forward, contentType: h('content-type') ?? null,
  };
}

/** A request's JSON body, or a 400 saying what was expected. */
export async function jsonBody(c: Context, expected: string): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw apiError(400, 'invalid_request', `body: must be JSON ${expected}`);
  }
}
