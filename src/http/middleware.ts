import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { HTTPException } from 'hono/http-exception';
import { getConfig } from '../config';
import { openShards } from '../store/shards';
import { DEFAULT_APP, findLiveKey } from '../store/apps';
import { apiError } from './errors';
import { DELIVERY_HEADERS } from '../hook/headers';
import { bearerToken, parseKey, secretMatches } from '../keys';
import type { AppEnv } from './types';

/** Parses config and opens the database once per request, for every route. */
export const context = createMiddleware<AppEnv>(async (c, next) => {
  const cfg = getConfig(c.env);
  const shards = openShards(c.env, cfg);
  c.set('config', cfg);
  c.set('shards', shards);
  c.set('db', shards.home.db);
  await next();
});

/**
 * A request carrying Torque's own delivery headers is a hook call pointed back at a Torque API:
 * two such tasks replaying each other (or everything completed) would run forever with no client
 * traffic. Refused unless ALLOW_CHAINING says deployments are deliberately chained.
 */
export const refuseLoops = createMiddleware<AppEnv>(async (c, next) => {
  const marker = DELIVERY_HEADERS.find((h) => c.req.header(h) !== undefined);
  if (marker && !c.get('config').ALLOW_CHAINING) {
    throw apiError(400, 'loop_detected', `this request carries ${marker}: it is a Torque delivery, and Torque does not accept its own deliveries (set ALLOW_CHAINING=true to chain deployments on purpose)`);
  }
  await next();
});

/** The three ways a client may present a key: the seed's `api_key`, Torque-Api-Key, or Bearer. */
function presentedKey(h: (name: string) => string | undefined): string | undefined {
  const bearer = bearerToken(h('authorization'));
  return bearer ?? h('torque-api-key') ?? h('api_key') ?? h('api-key');
}

const unauthorized = (why: string) =>
  apiError(401, 'unauthorized', why, { 'www-authenticate': 'Bearer realm="torque"' });

/** The app a presented API key belongs to; throws 401 for a missing, malformed, unknown or revoked key. */
export async function appForKey(db: AppEnv['Variables']['db'], presented: string | undefined): Promise<string> {
  if (!presented) throw unauthorized('an API key is required: send Authorization: Bearer <key>');
  const parsed = parseKey(presented);
  if (!parsed) throw unauthorized('the API key is malformed');
  const key = await findLiveKey(db, parsed.keyId);
  if (!key || !(await secretMatches(parsed.secret, key.hash))) {
    throw unauthorized('the API key is unknown or revoked');
  }
  return key.appId;
}

const NO_ADMIN = 'auth is on (AUTHENTICATE=true) but no ADMIN_TOKEN secret is set, so no API key can be created: run `wrangler secret put ADMIN_TOKEN`, then create an app and key with the admin API (see the README)';
let warned = false;

/** Resolves the caller's app from its API key (or `default` when AUTHENTICATE is off). */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const cfg = c.get('config');
  if (cfg.AUTHENTICATE && !cfg.ADMIN_TOKEN) {
    // Said in the log and in the 401 itself: otherwise a fresh deployment is just "unauthorized".
    if (!warned) (warned = true), console.warn(`torque: ${NO_ADMIN}`);
    try {
      c.set('appId', await appForKey(c.get('db'), presentedKey((n) => c.req.header(n))));
    } catch (err) {
      if (err instanceof HTTPException && err.status === 401) throw unauthorized(`${err.message}; ${NO_ADMIN}`);
      throw err;
    }
    return next();
  }
  c.set('appId', cfg.AUTHENTICATE ? await appForKey(c.get('db'), presentedKey((n) => c.req.header(n))) : DEFAULT_APP);
  await next();
});

/** ENABLE_HSTS: tell browsers to stay on https, and refuse to carry API traffic over http. */
export const hsts = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.get('config').ENABLE_HSTS) return next();
  // The URL's scheme is what the client used (Cloudflare terminates TLS); a client-sent
  // X-Forwarded-Proto is deliberately not trusted, or it could talk its way past this.
  const url = new URL(c.req.url);
  if (url.protocol === 'http:') {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') {
      url.protocol = 'https:';
      c.res = c.redirect(url.toString(), 301);
    } else {
      throw apiError(403, 'https_required', 'this Torque only accepts https requests');
    }
  } else {
    await next();
  }
  c.res.headers.set('strict-transport-security', 'max-age=31536000; includeSubDomains');
});

/**
 * Per-app enqueue rate limit through the Workers Rate Limiting binding (configured in
 * wrangler.toml). The binding does not expose its period, so Retry-After is the shorter of the
 * two periods it allows (10 s): a client that waits that long is never early by much.
 */
export const rateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const limiter = c.env.ENQUEUE_LIMITER as RateLimit | undefined;
  if (limiter && !(await limiter.limit({ key: c.get('appId') })).success) {
    throw apiError(429, 'rate_limited', 'enqueue rate limit reached for this app; retry later', { 'retry-after': '10' });
  }
  await next();
});

/**
 * The rate limit for a route that counts only the requests making something new: `exempt` tells
 * the others (a /v2 schedule replaced by its id makes no new schedule, so it is not counted).
 */
export const rateLimitUnless = (exempt: (c: Context<AppEnv>) => Promise<boolean>) =>
  createMiddleware<AppEnv>(async (c, next) => ((await exempt(c)) ? next() : rateLimit(c, next)));

/**
 * Refuses bodies over MAX_BODY_BYTES, or for `batch` MAX_BATCH_BYTES, before reading them (413).
 * Every request is held to MAX_BATCH_BYTES (the most a route needs: a /batch of items, a publish
 * stored once per endpoint; bounded by the request memory budget, see config.ts), so no route parses
 * a body of any size; routes whose body is the task's data hold it to MAX_BODY_BYTES.
 */
export const limitBody = (batch = false) => createMiddleware<AppEnv>((c, next) => {
  const cfg = c.get('config');
  const [max, name] = batch ? [cfg.MAX_BATCH_BYTES, 'MAX_BATCH_BYTES'] : [cfg.MAX_BODY_BYTES, 'MAX_BODY_BYTES'];
  return bodyLimit({
    maxSize: max,
    onError: () => {
      throw apiError(413, 'body_too_large', `body: larger than ${name} (${max} bytes)`);
    },
  })(c, next);
});
