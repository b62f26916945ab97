import { Receiver } from '@upstash/qstash';
import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:workers';
import { getConfig } from '../src/config';
import { attempt, decideNext } from '../src/dispatch/outcome';
import type { TaskRow } from '../src/store/schema';
import { qstashSignature, SIGNATURE_TTL_S } from '../src/hook/qstash';
import { compileRetryDelay } from '../src/hook/retry-delay';
import { parseDuration, parseFlowValue } from '../src/http/v2/headers';
import { splitCron } from '../src/http/v2/schedules';
import { watchedD1 } from './d1-wrap';
import { guardedD1 } from './faults';
import { call, callWith, consume, getTask, hook, json, received, waitFor } from './helpers';

// The /v2 (QStash) protocol in the Workers runtime: header parsing, the delivery signature (checked
// with the official SDK's Receiver), and a publish delivered by the real consumer.

const status = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return { status: (err as { status?: number }).status, message: (err as Error).message };
  }
  return null;
};

describe('QStash header values', () => {
  it('reads durations in every form QStash takes', () => {
    expect(parseDuration('10s', 'h')).toBe(10);
    expect(parseDuration('5m', 'h')).toBe(300);
    expect(parseDuration('1d2h', 'h')).toBe(93_600);
    expect(parseDuration('1h30m10s', 'h')).toBe(5410);
    expect(parseDuration('1500ms', 'h')).toBe(2); // rounded up to a whole second
    expect(parseDuration('42', 'h')).toBe(42);
  });

  it('refuses durations it cannot read, with a 400 naming the header', () => {
    for (const bad of ['10y', '', 's', '1h1h', '-5s', '1.5s', '10 s', '1h junk']) {
      expect(status(() => parseDuration(bad, 'Upstash-Delay')), bad).toMatchObject({ status: 400, message: expect.stringContaining('Upstash-Delay') });
    }
  });

  it('reads flow-control values onto Torque flows', () => {
    expect(parseFlowValue('parallelism=1')).toEqual({ parallelism: 1, rate: null, period: 1 });
    expect(parseFlowValue('parallelism=2, rate=10, period=1m')).toEqual({ parallelism: 2, rate: 10, period: 60 });
    expect(parseFlowValue('rate=5,period=1d')).toEqual({ parallelism: null, rate: 5, period: 86_400 });
    for (const bad of ['', 'period=1s', 'rate=0', 'rate=x', 'speed=3', 'rate=1, rate=2', 'rate=1, period=2d']) {
      expect(status(() => parseFlowValue(bad)), bad).toMatchObject({ status: 400, message: expect.stringContaining('Upstash-Flow-Control-Value') });
    }
  });
});

describe('schedules and keys', () => {
  it('reads the CRON_TZ= prefix of Upstash-Cron', () => {
    expect(splitCron('CRON_TZ=Europe/Berlin 0 9 * * *')).toEqual({ cron: '0 9 * * *', timezone: 'Europe/Berlin' });
    expect(splitCron(' */5 * * * * ')).toEqual({ cron: '*/5 * * * *', timezone: 'UTC' });
  });

  it('keeps an app its keys until rotated; a rotation makes next current and a new next', async () => {
    const get = async () => (await (await call('/v2/keys')).json()) as { current: string; next: string };
    const first = await get();
    expect(await get()).toEqual(first);
    const rotated = (await (await call('/v2/keys/rotate', { method: 'POST' })).json()) as { current: string; next: string };
    expect(rotated.current).toBe(first.next);
    expect(rotated.next).not.toBe(first.current);
    expect(await get()).toEqual(rotated);
  });

  it('answers a bad cron or zone with a 400 naming Upstash-Cron, and upserts by Upstash-Schedule-Id', async () => {
    const h = hook('ok');
    const make = (headers: Record<string, string>) => call(`/v2/schedules/${h.url}`, { method: 'POST', body: 'x', headers });
    for (const cron of ['every day', 'CRON_TZ=Mars/Olympus 0 9 * * *', '* * * *']) {
      const res = await make({ 'upstash-cron': cron });
      expect(res.status, cron).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('Upstash-Cron');
    }
    expect((await make({})).status).toBe(400);
    expect((await make({ 'upstash-cron': '0 9 * * *', 'upstash-schedule-id': 'mine' })).status).toBe(201);
    expect((await make({ 'upstash-cron': 'CRON_TZ=Asia/Tokyo 0 9 * * *', 'upstash-schedule-id': 'mine' })).status).toBe(201);
    const s = (await (await call('/v2/schedules/mine')).json()) as { cron: string; nextScheduleTime: number };
    expect(s.cron).toBe('CRON_TZ=Asia/Tokyo 0 9 * * *');
    expect(new Date(s.nextScheduleTime).getUTCHours()).toBe(0); // 09:00 in Tokyo
    // The listing shows each body as GET does (a listing reads bodies only up to 16 KiB each; a longer one is left out).
    const big = 'b'.repeat(20_000);
    expect((await call(`/v2/schedules/${h.url}`, { method: 'POST', body: big, headers: { 'upstash-cron': '0 9 * * *', 'upstash-schedule-id': 'big' } })).status).toBe(201);
    const listed = (await (await call('/v2/schedules')).json()) as { scheduleId: string; body?: string }[];
    expect(listed.find((x) => x.scheduleId === 'mine')?.body).toBe('x');
    expect(listed.find((x) => x.scheduleId === 'big')).not.toHaveProperty('body');
    expect(((await (await call('/v2/schedules/big')).json()) as { body: string }).body).toBe(big);
    expect((await call('/v2/schedules/mine', { method: 'DELETE' })).status).toBe(200);
    expect((await call('/v2/schedules/mine')).status).toBe(404);
  });
});

describe('Upstash-Retry-Delay expressions', () => {
  it('evaluates the forms the SDK documents, in ms over retried', () => {
    expect(compileRetryDelay('1000')(3)).toBe(1000);
    expect([0, 1, 2].map(compileRetryDelay('1000 * (1 + retried)'))).toEqual([1000, 2000, 3000]);
    expect([0, 3].map(compileRetryDelay('pow(2, retried)'))).toEqual([1, 8]);
    expect([0, 5].map(compileRetryDelay('max(10, pow(2, retried))'))).toEqual([10, 32]);
    expect(compileRetryDelay('floor(sqrt(abs(-16))) + ceil(0.2) - round(exp(0)) + min(1, 2) / 2')(0)).toBe(4.5);
  });

  it('refuses anything else, saying what is wrong', () => {
    for (const bad of ['', 'retried +', 'pow(2)', 'foo(1)', 'this.constructor', '1; 2', '(1', 'max(1, 2, 3)']) {
      expect(() => compileRetryDelay(bad), bad).toThrow();
    }
  });

  it('sets the wait before each retry of a /v2 task (seconds, capped; Retry-After may lengthen it)', () => {
    const cfg = { MIN_RETRY_DELAY: 1, MAX_RETRY_DELAY: 60, ms: { COMPLETED_TTL: 10_000, FAILED_TTL: 10_000 } };
    const after = (attempts: number, retryAfter: number | null = null) =>
      decideNext({ attempts, maxRetries: 10, retryBase: 0 }, { outcome: 'http', retryAfter }, cfg, 0, '1000 * (1 + retried)');
    expect([1, 2, 3].map((n) => after(n))).toEqual([{ status: 'retry', dueAt: 1000 }, { status: 'retry', dueAt: 2000 }, { status: 'retry', dueAt: 3000 }]);
    expect(after(11)).toEqual({ status: 'failed', expiresAt: 10_000 }); // the 10 retries are spent
    expect(after(1, 30)).toEqual({ status: 'retry', dueAt: 30_000 });
    expect(decideNext({ attempts: 1, maxRetries: 3, retryBase: 0 }, { outcome: 'http', retryAfter: null }, cfg, 0, 'pow(10, 9)')).toEqual({ status: 'retry', dueAt: 60_000 });
  });
});

describe('the QStash delivery signature', () => {
  const keys = { currentSigningKey: 'sig_current_key_for_tests', nextSigningKey: 'sig_next_key_for_tests' };
  const now = () => Math.floor(Date.now() / 1000);

  it('is a JWT the official Receiver verifies, with the claims QStash sends', async () => {
    const body = new TextEncoder().encode('{"a":1}');
    const jwt = await qstashSignature(keys.currentSigningKey, 'https://example.com/hook?x=1', body, now());
    expect(await new Receiver(keys).verify({ signature: jwt, body: '{"a":1}', url: 'https://example.com/hook?x=1' })).toBe(true);
    const [header, claims] = jwt.split('.').slice(0, 2).map((p) => JSON.parse(atob(p.replace(/-/g, '+').replace(/_/g, '/'))));
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(claims).toMatchObject({ iss: 'Upstash', sub: 'https://example.com/hook?x=1', nbf: claims.iat, exp: claims.iat + SIGNATURE_TTL_S });
    expect(claims.jti).toMatch(/^jwt_/);
  });

  it('covers an empty body (the hash of nothing), and a receiver holding the key as next verifies it', async () => {
    const jwt = await qstashSignature(keys.nextSigningKey, 'https://example.com/h', null, now());
    const claims = JSON.parse(atob(jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    expect(claims.body).toBe('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=');
    expect(await new Receiver(keys).verify({ signature: jwt, body: '', url: 'https://example.com/h' })).toBe(true);
  });

  it('is refused for another body, another URL, another key or once expired', async () => {
    const jwt = await qstashSignature(keys.currentSigningKey, 'https://example.com/h', new TextEncoder().encode('x'), now());
    await expect(new Receiver(keys).verify({ signature: jwt, body: 'y' })).rejects.toThrow(/body hash/);
    await expect(new Receiver(keys).verify({ signature: jwt, body: 'x', url: 'https://example.com/other' })).rejects.toThrow(/subject/);
    await expect(new Receiver({ currentSigningKey: 'sig_a', nextSigningKey: 'sig_b' }).verify({ signature: jwt, body: 'x' })).rejects.toThrow(/signature/);
    const old = await qstashSignature(keys.currentSigningKey, 'https://example.com/h', null, now() - 600);
    // (Receiver reports the last key it tried: both are the signing key here, so the reason shows.)
    await expect(new Receiver({ ...keys, nextSigningKey: keys.currentSigningKey }).verify({ signature: old, body: '' })).rejects.toThrow(/exp/);
  });
});

describe('POST /v2/publish in the runtime', () => {
  it('stores a task the consumer delivers signed with the app key, with QStash headers and forwarded ones', async () => {
    const h = hook('ok', 'q=1');
    const res = await call(`/v2/publish/${h.url}`, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain', 'upstash-forward-x-tenant': 'acme', 'upstash-retries': '1' } });
    expect(res.status).toBe(201);
    const { messageId, url } = (await res.json()) as { messageId: string; url: string };
    expect(url).toBe(h.url);
    expect((await getTask(messageId)).max_retries).toBe(1);
    await consume([messageId]);
    const [got] = await received(h.key);
    expect(got.headers).toMatchObject({ 'x-tenant': 'acme', 'upstash-message-id': messageId, 'upstash-retried': '0', 'content-type': 'text/plain' });
    expect(got.headers['torque-qstash']).toBeUndefined();
    const keys = (await (await call('/v2/keys')).json()) as { current: string; next: string };
    const receiver = new Receiver({ currentSigningKey: keys.current, nextSigningKey: keys.next });
    expect(await receiver.verify({ signature: got.headers['upstash-signature'], body: 'hello', url: h.url })).toBe(true);
  });

  it("reports to Upstash-Callback with QStash's callback body, signed", async () => {
    const h = hook('status', 'code=200');
    const told = hook('ok');
    const res = await call(`/v2/publish/${h.url}`, { method: 'POST', body: 'ping', headers: { 'upstash-callback': told.url, 'upstash-forward-x-a': 'b' } });
    const { messageId } = (await res.json()) as { messageId: string };
    await consume([messageId]);
    const { tasks } = (await (await call('/tasks?limit=100')).json()) as { tasks: { id: string; callback_of: string | null }[] };
    const report = tasks.find((t) => t.callback_of === messageId)!;
    await consume([report.id]);
    const [got] = await received(told.key);
    const body = Buffer.from(got.body, 'base64').toString();
    expect(JSON.parse(body)).toMatchObject({ status: 200, body: btoa('status 200'), retried: 0, sourceMessageId: messageId, url: h.url, method: 'POST', sourceBody: btoa('ping'), sourceHeader: { 'x-a': ['b'] } });
    const keys = (await (await call('/v2/keys')).json()) as { current: string; next: string };
    expect(await new Receiver({ currentSigningKey: keys.current, nextSigningKey: keys.next }).verify({ signature: got.headers['upstash-signature'], body, url: told.url })).toBe(true);
  });

  it('a signing key that cannot be read fails the attempt (retried), never the task for good', async () => {
    const h = hook('ok');
    const task = {
      appId: 'default', id: '01KEYREADFAILS000000000000', url: h.url, method: 'POST', headers: JSON.stringify({ 'torque-qstash': '1' }), body: null,
      contentType: null, status: 'in_progress', attempts: 1, maxRetries: 3, retryBase: 0, timeout: 10, createdAt: 0, updatedAt: 0, dueAt: 0,
    } as unknown as TaskRow;
    const out = await attempt(task, getConfig(env), () => {}, () => Promise.reject(new Error('D1 is down')));
    expect(out).toMatchObject({ outcome: 'internal', next: { status: 'retry' } });
    expect(await received(h.key)).toHaveLength(0);
  });

  it('leaves native tasks unsigned the QStash way', async () => {
    const h = hook('ok');
    const res = await call(`/?url=${encodeURIComponent(h.url)}`, { method: 'POST', body: 'x' });
    await consume([((await res.json()) as { id: string }).id]);
    const [got] = await received(h.key);
    expect(got.headers['upstash-signature']).toBeUndefined();
  });

  it('answers a bad header with a 400 naming it, and what Torque does not do with a 501', async () => {
    const h = hook('ok');
    const publish = (headers: Record<string, string>) => call(`/v2/publish/${h.url}`, { method: 'POST', body: 'x', headers });
    for (const [headers, named] of [
      [{ 'upstash-delay': 'soon' }, 'Upstash-Delay'], [{ 'upstash-retries': 'many' }, 'Upstash-Retries'], [{ 'upstash-method': 'BREW' }, 'Upstash-Method'],
      [{ 'upstash-retry-delay': 'pow(2)' }, 'Upstash-Retry-Delay'], [{ 'upstash-retry-delay': 'process.exit()' }, 'Upstash-Retry-Delay'], [{ 'upstash-flow-control-value': 'parallelism=1' }, 'Upstash-Flow-Control-Value'],
      [{ 'upstash-callback': 'not a url' }, 'Upstash-Callback'], [{ 'upstash-timeout': '1d' }, 'Upstash-Timeout: must be at most'], [{ 'upstash-forward-host': 'x' }, 'Upstash-Forward-host'],
    ] as const) {
      const res = await publish(headers);
      expect(res.status, named).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain(named);
    }
    expect((await publish({ 'upstash-queue-name': 'q' })).status).toBe(501);
    expect((await call('/v2/publish/no-such-group', { method: 'POST', body: 'x' })).status).toBe(404);
    expect((await call('/v2/events')).status).toBe(501);
    expect((await call('/v2/nothing-here')).status).toBe(404);
    expect(await received(h.key)).toHaveLength(0);
  });

  it('batches URLs and URL groups in one request; a duplicate id inside it is one message', async () => {
    const [a, b, one] = [hook('ok'), hook('ok'), hook('ok')];
    await call('/v2/topics/pair/endpoints', { method: 'POST', body: JSON.stringify({ endpoints: [{ url: a.url }, { url: b.url }] }) });
    const res = await call('/v2/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([
      { destination: 'pair', body: 'to both' },
      { destination: one.url, body: 'x', headers: { 'Upstash-Deduplication-Id': 'twice' } },
      { destination: one.url, body: 'x', headers: { 'Upstash-Deduplication-Id': 'twice' } },
    ]) });
    expect(res.status).toBe(201);
    const out = (await res.json()) as [{ messageId: string; url: string }[], { messageId: string }, { messageId: string; deduplicated?: boolean }];
    expect(out[0].map((m) => m.url)).toEqual([a.url, b.url]);
    expect(out[2]).toMatchObject({ messageId: out[1].messageId, deduplicated: true });
    await consume([...out[0].map((m) => m.messageId), out[1].messageId]);
    for (const h of [a, b]) expect((await received(h.key))[0].headers['upstash-topic-name']).toBe('pair');
    expect(await received(one.key)).toHaveLength(1);
  });

  it('refuses what it cannot store or afford with a 4xx, storing nothing', async () => {
    const h = hook('ok');
    const batch = (items: unknown) => call('/v2/batch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(items) });
    for (const [items, named] of [
      [[{ destination: h.url, headers: { 'bad header': 'x' } }], '[0].headers'], [[{ destination: h.url }, { destination: 'no-such-group' }], 'not found'],
      [[], 'must hold'], [{ destination: h.url }, 'expected array'], [[{ destination: h.url, headers: { 'Upstash-Forward-Host': 'evil' } }], 'host'],
    ] as const) {
      const res = await batch(items);
      expect(res.status, named).toBeGreaterThanOrEqual(400);
      expect(res.status, named).toBeLessThan(500);
      expect(((await res.json()) as { error: { message: string } }).error.message, named).toContain(named);
    }
    const ids = Array.from({ length: 101 }, (_, i) => `messageIds=${i}`).join('&');
    expect((await call(`/v2/messages?${ids}`, { method: 'DELETE' })).status).toBe(400);
    await callWith({}, '/v2/topics/wide/endpoints', { method: 'POST', body: JSON.stringify({ endpoints: [1, 2, 3, 4, 5].map((i) => ({ url: `${h.url}?e=${i}` })) }) });
    const big = await callWith({ MAX_BODY_BYTES: '100' }, '/v2/publish/wide', { method: 'POST', body: 'x'.repeat(90) });
    expect(big.status).toBe(413);
    expect(await received(h.key)).toHaveLength(0);
  });
});

describe('/v2 holds to the native rules', () => {
  const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
  const schedule = (vars: Record<string, unknown>, headers: Record<string, string>, dest = hook('ok').url) =>
    callWith(vars, `/v2/schedules/${dest}`, { method: 'POST', body: 'x', headers: { 'upstash-cron': '0 9 * * *', ...headers } });

  it('a new /v2 schedule is held to MAX_SCHEDULES_PER_APP; replacing one by its id is not a new one', async () => {
    const { n } = (await env.DB.prepare(`SELECT count(*) AS n FROM schedules WHERE app_id = 'default'`).first<{ n: number }>())!;
    const vars = { MAX_SCHEDULES_PER_APP: String(n + 2) };
    expect((await schedule(vars, { 'upstash-schedule-id': 'cap-1' })).status).toBe(201);
    expect((await schedule(vars, { 'upstash-schedule-id': 'cap-2' })).status).toBe(201);
    const refused = await schedule(vars, { 'upstash-schedule-id': 'cap-3' });
    expect(refused.status).toBe(409);
    expect(await errorOf(refused)).toMatchObject({ code: 'limit_reached', message: expect.stringContaining('MAX_SCHEDULES_PER_APP') });
    expect((await call('/v2/schedules/cap-3')).status).toBe(404);
    expect((await schedule(vars, { 'upstash-schedule-id': 'cap-2', 'upstash-cron': '0 10 * * *' })).status).toBe(201);
    expect(((await (await call('/v2/schedules/cap-2')).json()) as { cron: string }).cron).toBe('0 10 * * *');
    for (const id of ['cap-1', 'cap-2']) await call(`/v2/schedules/${id}`, { method: 'DELETE' });
  });

  it('a new /v2 schedule counts against the enqueue rate limit; replacing one does not', async () => {
    // A fresh app, so the small test limiter (3 per 10 s) is this test's alone.
    const made = await callWith({}, '/admin/apps', { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'v2-scheduler' }) });
    const { api_key } = (await made.json()) as { api_key: string };
    const vars = { AUTHENTICATE: 'true', ENQUEUE_LIMITER: (env as unknown as { TEST_LIMITER: RateLimit }).TEST_LIMITER };
    const auth = { authorization: `Bearer ${api_key}` };
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await schedule(vars, { ...auth, 'upstash-schedule-id': `limited-${i}` })).status);
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(3);
    expect((await schedule(vars, { ...auth, 'upstash-schedule-id': 'limited-0' })).status).toBe(201);
  });

  it('answers a malformed percent-escape in a destination with a 400, not a 500', async () => {
    for (const path of ['/v2/publish/https%3A%ZZ', '/v2/schedules/https%3A%2F%2Fa.com%2F%E0%A4%A']) {
      const res = await call(path, { method: 'POST', body: 'x', headers: { 'upstash-cron': '0 9 * * *' } });
      expect(res.status, path).toBe(400);
      expect((await errorOf(res)).message, path).toBe('destination: malformed percent-encoding');
    }
  });

  it('refuses names that are dot segments (flow keys, schedule ids, URL group names)', async () => {
    const h = hook('ok');
    for (const key of ['.', '..']) {
      const res = await call(`/v2/publish/${h.url}`, { method: 'POST', body: 'x', headers: { 'upstash-flow-control-key': key, 'upstash-flow-control-value': 'rate=1' } });
      expect(res.status, key).toBe(400);
      expect((await errorOf(res)).message).toContain('Upstash-Flow-Control-Key');
    }
    const bad = await schedule({}, { 'upstash-schedule-id': '..' });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toContain('Upstash-Schedule-Id');
    const batch = await call('/v2/batch', { method: 'POST', body: JSON.stringify([{ destination: '..' }]) });
    expect(batch.status).toBe(400);
    expect((await errorOf(batch)).message).toContain('destination');
    expect(await received(h.key)).toHaveLength(0);
  });

  it('refuses a destination with dot segments (they would name another URL), asking for it URL-encoded', async () => {
    const h = hook('ok');
    const encoded = encodeURIComponent(`${h.url}/x/../../elsewhere`);
    const res = await call(`/v2/publish/${encoded}`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain('URL-encode');
    const batch = await call('/v2/batch', { method: 'POST', body: JSON.stringify([{ destination: 'https://a.example/x/../../b.example/p' }]) });
    expect(batch.status).toBe(400);
    expect((await errorOf(batch)).message).toContain('URL-encode');
    // A dot in a name or a query string is no dot segment.
    expect((await call(`/v2/publish/${h.url}&a=/../`, { method: 'POST', body: 'x' })).status).toBe(201);
  });

  it('deletes the ids of a bulk call together: one claimed task does not hold back the others for its start window', async () => {
    const h = hook('ok');
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push(((await (await call(`/v2/publish/${h.url}`, { method: 'POST', body: 'x', headers: { 'upstash-delay': '1h' } })).json()) as { messageId: string }).messageId);
    const claimedAt = Date.now();
    await env.DB.prepare(`UPDATE tasks SET status = 'in_progress', updated_at = ? WHERE id = ?`).bind(claimedAt, ids[0]).run();
    const exists = async (id: string) => (await env.DB.prepare('SELECT 1 FROM tasks WHERE id = ?').bind(id).first()) !== null;
    const done = call(`/v2/messages?messageIds=${ids[0]}&messageIds=${ids[1]}`, { method: 'DELETE' });
    // The claimed task's deletion answers only after its start window (START_WINDOW_MS + CLOCK_MARGIN_MS, 2.75 s);
    // the other is gone long before that.
    await waitFor(async () => !(await exists(ids[1])), 'the unclaimed task deleted inside the claimed one\'s window', Math.max(0, claimedAt + 1750 - Date.now()));
    expect(await (await done).json()).toEqual({ cancelled: 2 });
    expect(await exists(ids[0])).toBe(false);
  });

  it('cancels the ids of a bulk call in one transaction per database, not one per id', async () => {
    const h = hook('ok');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(((await (await call(`/v2/publish/${h.url}`, { method: 'POST', body: 'x', headers: { 'upstash-delay': '1h' } })).json()) as { messageId: string }).messageId);
    let deletes = 0;
    const DB = watchedD1(env.DB, { prepare: (sql) => void (/^\s*DELETE FROM tasks\b/i.test(sql) && deletes++) });
    const res = await callWith({ DB }, `/v2/messages?${ids.map((id) => `messageIds=${id}`).join('&')}`, { method: 'DELETE' });
    expect(await res.json()).toEqual({ cancelled: 20 });
    expect(deletes).toBe(1);
    // Comma-separated ids name the same messages as repeated parameters.
    const more: string[] = [];
    for (let i = 0; i < 2; i++) more.push(((await (await call(`/v2/publish/${h.url}`, { method: 'POST', body: 'x', headers: { 'upstash-delay': '1h' } })).json()) as { messageId: string }).messageId);
    expect(await (await call(`/v2/messages?messageIds=${more.join(',')}`, { method: 'DELETE' })).json()).toEqual({ cancelled: 2 });
    expect(await env.DB.prepare('SELECT count(*) AS n FROM tasks WHERE id IN (SELECT value FROM json_each(?))').bind(JSON.stringify(ids)).first('n')).toBe(0);
  });

  it('bounds Upstash-Label to 128 characters', async () => {
    const h = hook('ok');
    const publish = (label: string) => call(`/v2/publish/${h.url}`, { method: 'POST', body: 'x', headers: { 'upstash-label': label } });
    expect((await publish('l'.repeat(128))).status).toBe(201);
    const res = await publish('l'.repeat(129));
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain('Upstash-Label');
  });

  it('reads and writes a flow once per key in a batch; the latest value wins', async () => {
    const h = hook('ok');
    let reads = 0;
    const DB = watchedD1(env.DB, { prepare: (sql) => { if (/from "flows"/i.test(sql)) reads++; } });
    const items = ['rate=1', 'rate=2', 'rate=3'].map((v) => ({ destination: h.url, body: 'x', headers: { 'Upstash-Flow-Control-Key': 'v2-batch-flow', 'Upstash-Flow-Control-Value': v, 'Upstash-Delay': '1h' } }));
    expect((await callWith({ DB }, '/v2/batch', { method: 'POST', body: JSON.stringify(items) })).status).toBe(201);
    expect(reads).toBe(1);
    expect(await env.DB.prepare(`SELECT rate FROM flows WHERE app_id = 'default' AND key = 'v2-batch-flow'`).first('rate')).toBe(3);
  });
});

describe('/v2 bulk calls name what they act on', () => {
  it('a bare bulk call (or a normalised .. path) does nothing; count= says "all", as the SDKs send it', async () => {
    const waiting = ((await (await call(`/v2/publish/${hook('ok').url}`, { method: 'POST', body: 'x', headers: { 'upstash-delay': '1h' } })).json()) as { messageId: string }).messageId;
    for (const [method, path] of [['DELETE', '/v2/messages'], ['DELETE', '/v2/dlq'], ['POST', '/v2/dlq/retry']]) {
      const res = await call(path, { method });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/count=N/);
    }
    // Dot segments are removed before Torque sees the path: whatever it becomes, nothing goes.
    for (const path of ['/v2/messages/..', '/v2/messages/x/..', '/v2/dlq/%2E%2E']) expect((await call(path, { method: 'DELETE' })).status, path).toBeGreaterThanOrEqual(400);
    expect((await getTask(waiting)).status).toBe('pending');
    expect(((await (await call('/v2/messages?count=100', { method: 'DELETE' })).json()) as { cancelled: number }).cancelled).toBeGreaterThanOrEqual(1);
    expect((await call(`/tasks/${waiting}`)).status).toBe(404);
  });

  it('a DLQ delete deletes only what is in the DLQ as it deletes: a task replayed meanwhile stays', async () => {
    const failed = async () => {
      const id = ((await (await call(`/v2/publish/${hook('status', 'code=500').url}`, { method: 'POST', body: 'x', headers: { 'upstash-retries': '0' } })).json()) as { messageId: string }).messageId;
      await consume([id]);
      expect((await getTask(id)).status).toBe('failed');
      return id;
    };
    const [one, two, three] = [await failed(), await failed(), await failed()];
    // A replay of `one` and `two` lands between anything the DELETE may have read and its delete.
    const replayed = new Set([one, two]);
    const DB = guardedD1(env.DB, (sql) => /^\s*DELETE FROM tasks/i.test(sql), async (run) => {
      await env.DB.prepare(`UPDATE tasks SET status = 'retry' WHERE id IN (SELECT value FROM json_each(?))`).bind(JSON.stringify([...replayed])).run();
      return run();
    });
    expect((await json(callWith({ DB }, `/v2/dlq?dlqIds=${one},${three}`, { method: 'DELETE' })))).toEqual({ deleted: 1 });
    expect((await callWith({ DB }, `/v2/dlq/${two}`, { method: 'DELETE' })).status).toBe(404);
    expect((await getTask(one)).status).toBe('retry');
    expect((await getTask(two)).status).toBe('retry');
    expect((await call(`/tasks/${three}`)).status).toBe(404);
    // Deleting the whole DLQ walks its failed tasks, then deletes them: checked again as it deletes.
    const [four, five] = [await failed(), await failed()];
    replayed.clear();
    replayed.add(four);
    const all = await json(callWith({ DB }, '/v2/dlq?count=100', { method: 'DELETE' }));
    expect(all.deleted).toBeGreaterThanOrEqual(1);
    expect((await getTask(four)).status).toBe('retry');
    expect((await call(`/tasks/${five}`)).status).toBe(404);
    // So does the native DELETE /?status=failed.
    const six = await failed();
    replayed.clear();
    replayed.add(six);
    expect((await callWith({ DB }, '/?status=failed&all=true', { method: 'DELETE' })).status).toBe(200);
    expect((await getTask(six)).status).toBe('retry');
  });

  it('a Deduplication-Id never meets a native Idempotency-Key of the same text', async () => {
    const native = (await (await call(`/?url=${encodeURIComponent(hook('ok').url)}`, { method: 'POST', body: 'x', headers: { 'idempotency-key': 'qstash:order-9' } })).json()) as { id: string };
    const res = await call(`/v2/publish/${hook('ok').url}`, { method: 'POST', body: 'x', headers: { 'upstash-deduplication-id': 'order-9' } });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { messageId: string }).messageId).not.toBe(native.id);
  });
});
