import { MAX_SHARDS } from './ids';
import { z } from 'zod';
import { normalizePattern } from './hook/hosts';
import { CONSUMER_WALL_S, D1_MAX_ROW_BYTES, MEMORY_PER_REQUEST_BYTE, REQUEST_MEMORY_BYTES } from './platform';

// A task row holds its body and, at most (as validated): 3 URLs of 2,048 bytes, 16 KiB of
// passthrough headers as JSON (escaping can double them), a content type, keys, a 1,024-character
// response excerpt and an error: under 100,000 bytes. The body gets the rest of D1's row.
export const ROW_OTHER_BYTES = 100_000;
// A consumer's last attempt ends by CONSUMER_BUDGET; its outcomes are flushed after that (a few
// statements per database, each at most D1's 30 s), inside the invocation's wall time.
export const FINAL_FLUSH_S = 30;
// /batch (and a topic publish) may carry this many times MAX_BODY_BYTES, within the request memory budget.
const BATCH_FACTOR = 4;

// Vars arrive as strings. A bad value must fail loudly by name rather than silently default,
// so each one is parsed strictly and the error lists every offending variable.
const int = (def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      if (!/^\d+$/.test(v.trim())) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number, got "${v}"` });
        return z.NEVER;
      }
      const n = Number(v.trim());
      if (n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}, got ${n}` });
        return z.NEVER;
      }
      return n;
    });

const bool = (def: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      const s = v.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false, got "${v}"` });
      return z.NEVER;
    });

// Comma-separated host patterns: `example.com` (exactly), `*.example.com` (any subdomain), `*`.
// Normalised exactly like the hosts they are compared with (case, IDNA, IPv4/IPv6 forms, trailing dot).
const hostList = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const list: string[] = [];
    for (const raw of (v ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
      const p = normalizePattern(raw);
      if (!p) {
        ctx.addIssue({ code: 'custom', message: `must list host patterns ("host", "*.suffix" or "*"); "${raw}" is not one` });
        return z.NEVER;
      }
      list.push(p);
    }
    return list;
  });

// Standard Webhooks secrets are 24 to 64 random bytes. Decoding here, when config is parsed, turns
// a bad secret into one clear `misconfigured` error instead of every delivery throwing later.
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
function signingKeyBytes(secret: string): Uint8Array | null {
  const b64 = secret.match(/^whsec_([A-Za-z0-9+/]+={0,2})$/)?.[1];
  if (!b64 || b64.length % 4 !== 0) return null;
  const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return raw.length >= MIN_SECRET_BYTES && raw.length <= MAX_SECRET_BYTES ? raw : null;
}

// D1 bindings holding tasks: `DB` (number 0, also home of apps and keys) and `DB_1` .. `DB_<MAX_SHARDS - 1>`,
// whose number is what a task id's last char names, so a list may grow (or be reordered) freely.
export const bindingShard = (name: string) => {
  if (name === 'DB') return 0;
  const n = Number(name.match(/^DB_([1-9]\d?)$/)?.[1] ?? NaN);
  return n < MAX_SHARDS ? n : NaN;
};
const databaseList = (def: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const names = (v ?? def).split(',').map((p) => p.trim()).filter(Boolean);
      const bad = names.find((n) => Number.isNaN(bindingShard(n)));
      if (bad) {
        ctx.addIssue({ code: 'custom', message: `must list D1 binding names DB, DB_1 .. DB_${MAX_SHARDS - 1}; "${bad}" is not one` });
        return z.NEVER;
      }
      return [...new Set(names)];
    });

// A rate: "<starts>/<seconds>" (e.g. "10/1", "600/60"), or unset for none.
const rateSpec = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return null;
    const m = v.trim().match(/^(\d{1,6})\/(\d{1,5})$/);
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1 || Number(m[2]) > 86_400) {
      ctx.addIssue({ code: 'custom', message: `must be <starts>/<seconds>, e.g. 10/1, got "${v}"` });
      return z.NEVER;
    }
    return { rate: Number(m[1]), periodMs: Number(m[2]) * 1000 };
  });

const secret = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() ? v.trim() : undefined));

const ConfigSchema = z
  .object({
    AUTHENTICATE: bool(true),
    ENABLE_HSTS: bool(false),
    DEFAULT_TIMEOUT: int(60, 1, 86_400),
    MAX_TIMEOUT: int(600, 1, 86_400),
    MIN_RETRY_DELAY: int(2, 1, 86_400),
    MAX_RETRY_DELAY: int(7200, 1, 31_536_000),
    MAX_RETRIES: int(36, 0, 100),
    COMPLETED_TTL: int(604_800, 0, 315_360_000),
    FAILED_TTL: int(2_592_000, 0, 315_360_000),
    SWEEP_GRACE: int(300, 1, 86_400),
    // Seconds an Idempotency-Key is remembered after its enqueue, even once its task is gone (and
    // for as long as its task exists, if longer): a client's retry within it never makes a second task.
    IDEMPOTENCY_TTL: int(86_400, 0, 315_360_000),
    // Seconds after its creation at which the sweeper's walk over new ids takes a task (counts it, and
    // checks it if unfinished): longer than an enqueue takes to commit plus clock drift.
    SWEEP_WALK_LAG: int(120, 5, 3600),
    MAX_BODY_BYTES: int(1_048_576, 1, D1_MAX_ROW_BYTES - ROW_OTHER_BYTES),
    CONSUMER_BUDGET: int(840, 1, CONSUMER_WALL_S - FINAL_FLUSH_S),
    ALLOWED_HOSTS: hostList,
    BLOCKED_HOSTS: hostList,
    // On by default: a deployed Torque should never be pointed at its own network (see README).
    BLOCK_PRIVATE_ADDRESSES: bool(true),
    // Torque's API refuses requests that carry its own delivery headers (a hook pointed back at
    // Torque would otherwise loop); true allows deliberate chaining between deployments.
    ALLOW_CHAINING: bool(false),
    // Every D1 database tasks live in (see README, Scaling out); new tasks go to those not draining.
    // Limits for every destination host, for tasks that name no flow (unset: none, and no cost).
    DEFAULT_HOST_RATE: rateSpec,
    DEFAULT_HOST_PARALLELISM: z.string().optional().transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return null;
      if (!/^\d{1,4}$/.test(v.trim()) || Number(v) < 1) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number of at least 1, got "${v}"` });
        return z.NEVER;
      }
      return Number(v);
    }),
    // Circuit breakers: this many failures in a row at a destination open its circuit (0: off);
    // an open circuit lets one probe through per interval (doubling while probes fail, to 10×).
    BREAKER_THRESHOLD: int(10, 0, 10_000),
    BREAKER_INTERVAL: int(30, 1, 3600),
    // Schedules an app may have at once (POST /schedules beyond it: 409 naming this variable).
    MAX_SCHEDULES_PER_APP: int(1000, 1, 100_000),
    // Where the operator hears of circuits opening and closing (a signed JSON POST), if anywhere.
    ALERT_URL: z.string().optional().transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      try {
        const u = new URL(v.trim());
        if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
      } catch {}
      ctx.addIssue({ code: 'custom', message: `must be an http: or https: URL, got "${v}"` });
      return z.NEVER;
    }),
    DATABASES: databaseList('DB'),
    DRAIN_DATABASES: databaseList(''),
    ADMIN_TOKEN: secret,
    METRICS_TOKEN: secret,
    SIGNING_SECRET: secret.refine((v) => v === undefined || signingKeyBytes(v) !== null, {
      message: `must be whsec_ + base64 of ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes (Standard Webhooks)`,
    }),
  })
  .refine((c) => c.DEFAULT_TIMEOUT <= c.MAX_TIMEOUT, {
    path: ['DEFAULT_TIMEOUT'],
    message: 'must not exceed MAX_TIMEOUT',
  })
  .refine((c) => c.MAX_TIMEOUT <= c.CONSUMER_BUDGET, {
    // An attempt that cannot fit in a consumer invocation's budget would never be started.
    path: ['MAX_TIMEOUT'],
    message: 'must not exceed CONSUMER_BUDGET',
  })
  .refine((c) => c.DATABASES.includes('DB'), {
    // Apps and keys live in DB, and every deployment starts with it.
    path: ['DATABASES'],
    message: 'must include DB',
  })
  .refine((c) => c.DRAIN_DATABASES.every((d) => c.DATABASES.includes(d)) && c.DATABASES.some((d) => !c.DRAIN_DATABASES.includes(d)), {
    path: ['DRAIN_DATABASES'],
    message: 'must name databases of DATABASES and leave at least one taking new tasks',
  })
  .refine((c) => c.MIN_RETRY_DELAY <= c.MAX_RETRY_DELAY, {
    path: ['MIN_RETRY_DELAY'],
    message: 'must not exceed MAX_RETRY_DELAY',
  })
  // The most a /batch or a topic publish may carry: BATCH_FACTOR bodies, unless that would exceed
  // the request memory budget (see platform.ts): 4 MiB by default, 4,448,683 bytes at most.
  .transform((c) => ({ ...c, MAX_BATCH_BYTES: Math.min(BATCH_FACTOR * c.MAX_BODY_BYTES, Math.floor(REQUEST_MEMORY_BYTES / MEMORY_PER_REQUEST_BYTE)), ms: inMs(c) }));

/** The durations the code counts in milliseconds (vars give seconds), converted once. */
const inMs = (c: Record<(typeof MS)[number], number>) => Object.fromEntries(MS.map((k) => [k, c[k] * 1000])) as Record<(typeof MS)[number], number>;
const MS = ['SWEEP_GRACE', 'SWEEP_WALK_LAG', 'BREAKER_INTERVAL', 'COMPLETED_TTL', 'FAILED_TTL', 'IDEMPOTENCY_TTL', 'CONSUMER_BUDGET'] as const;

export type Config = z.output<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

// Parsed once per env object: bindings are stable for an isolate's lifetime.
const cache = new WeakMap<object, Config>();

export function getConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    throw new ConfigError(`Invalid Torque configuration: ${detail}`);
  }
  cache.set(env, parsed.data);
  return parsed.data;
}
