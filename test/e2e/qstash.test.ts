// The official QStash SDK (@upstash/qstash, pinned) driving `npm run dev` unchanged: only its base
// URL and token point at Torque (the token is an app's API key). Deliveries go to the real hook
// server, and every one is checked with the SDK's own Receiver.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Client, Receiver } from '@upstash/qstash';
import { startHookServer, type Received } from '../hook-server.ts';
import { DevServer, waitFor } from './dev-server.ts';

const ADMIN = 'e2e-admin';
const server = new DevServer({ AUTHENTICATE: 'true', ADMIN_TOKEN: ADMIN, MIN_RETRY_DELAY: '1', MAX_RETRY_DELAY: '2', SWEEP_GRACE: '3' }, 1000);
let hooks: Awaited<ReturnType<typeof startHookServer>>;
let client: Client;
let token: string;
let keys: { current: string; next: string };

const log = (key: string): Received[] => hooks.log.get(key) ?? [];
const bodyOf = (r: Received) => Buffer.from(r.body, 'base64').toString();
const delivered = (key: string, n = 1) => waitFor(`${n} call(s) to ${key}`, async () => (log(key).length >= n ? log(key) : undefined), 90_000);
const v2 = (path: string, init: RequestInit = {}) =>
  fetch(`${server.base}/v2${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });

/** Receiver.verify as a QStash user's hook runs it, on what the hook server received. */
async function verify(r: Received, k = keys, body = bodyOf(r)) {
  const receiver = new Receiver({ currentSigningKey: k.current, nextSigningKey: k.next });
  return receiver.verify({ signature: r.headers['upstash-signature'], body, url: `${hooks.url}${r.path}` });
}

describe('the QStash SDK against Torque', { timeout: 400_000 }, () => {
  before(async () => {
    hooks = await startHookServer();
    await server.start();
    const made = await fetch(`${server.base}/admin/apps`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'qstash-user' }),
    });
    assert.equal(made.status, 201);
    token = ((await made.json()) as { api_key: string }).api_key;
    client = new Client({ baseUrl: server.base, token });
    keys = (await (await v2('/keys')).json()) as typeof keys;
    assert.match(keys.current, /^sig_/);
    assert.notEqual(keys.current, keys.next);
  });
  after(async () => {
    await server.stop();
    hooks.server.closeAllConnections();
    hooks.server.close();
  });

  it('refuses a missing or wrong token', async () => {
    const bad = new Client({ baseUrl: server.base, token: 'tq_nope' });
    await assert.rejects(bad.publishJSON({ url: `${hooks.url}/h/nope/ok`, body: {} }), (e: Error & { status?: number }) => e.status === 401);
  });

  it('publishes with a delay, forwards headers, signs the delivery, and shows the message', async () => {
    const before = Date.now();
    const res = await client.publishJSON({ url: `${hooks.url}/h/delay/ok?x=1`, body: { hello: 'world' }, delay: '2s', headers: { 'X-Custom': 'yes' }, retries: 2, label: 'greeting' });
    assert.equal(res.url, `${hooks.url}/h/delay/ok?x=1`);
    const msg = await client.messages.get(res.messageId);
    assert.equal(msg.url, res.url);
    assert.equal(msg.method, 'POST');
    assert.equal(msg.maxRetries, 2);
    assert.equal(msg.label, 'greeting');
    assert.deepEqual(msg.header?.['x-custom'], ['yes']);
    assert.ok(msg.notBefore! >= before + 2000, `notBefore ${msg.notBefore} is 2 s after the publish`);
    const [got] = await delivered('delay');
    assert.ok(got.at >= msg.notBefore!, 'not delivered before its delay');
    assert.equal(got.headers['x-custom'], 'yes');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['upstash-message-id'], res.messageId);
    assert.equal(got.headers['upstash-retried'], '0');
    assert.equal(got.headers['torque-qstash'], undefined, 'the mark is not sent');
    assert.deepEqual(JSON.parse(bodyOf(got)), { hello: 'world' });
    assert.equal(await verify(got), true);
    await assert.rejects(verify(got, keys, bodyOf(got).replace('world', 'w0rld')), /body hash does not match/);
    await assert.rejects(verify(got, { current: 'sig_wrong', next: 'sig_wrong_too' }), /signature/i);
  });

  it('deduplicates by id and by content', async () => {
    const url = `${hooks.url}/h/dedup/ok`;
    const first = await client.publish({ url, body: 'once', deduplicationId: 'order-1' });
    const again = await client.publish({ url, body: 'once', deduplicationId: 'order-1' });
    assert.equal(again.messageId, first.messageId);
    assert.equal(again.deduplicated, true);
    const c1 = await client.publish({ url, body: 'same', contentBasedDeduplication: true });
    const c2 = await client.publish({ url, body: 'same', contentBasedDeduplication: true });
    assert.equal(c2.messageId, c1.messageId);
    assert.equal(c2.deduplicated, true);
    await delivered('dedup', 2);
    for (const r of log('dedup')) assert.equal(await verify(r), true);
  });

  it('publishes a batch', async () => {
    const res = await client.batchJSON([
      { url: `${hooks.url}/h/batch/ok?n=1`, body: { n: 1 } },
      { url: `${hooks.url}/h/batch/ok?n=2`, body: { n: 2 }, method: 'PUT' },
    ]);
    assert.equal(res.length, 2);
    const got = await delivered('batch', 2);
    assert.deepEqual(got.map((r) => r.method).sort(), ['POST', 'PUT']);
    for (const r of got) assert.equal(await verify(r), true);
  });

  it('cancels a waiting message', async () => {
    const res = await client.publish({ url: `${hooks.url}/h/cancel/ok`, body: 'never', delay: 120 });
    assert.deepEqual(await client.messages.cancel(res.messageId), { cancelled: 1 });
    await assert.rejects(client.messages.get(res.messageId), (e: Error & { status?: number }) => e.status === 404);
  });

  it('retries with Upstash-Retry-Delay, sends the failed message to the DLQ, and retries it from there', async () => {
    const res = await client.publish({ url: `${hooks.url}/h/dlq/seq?codes=500,500,200`, body: 'try me', retries: 1, retryDelay: '1000 * (1 + retried)' });
    const dlq = await waitFor('the DLQ entry', async () => (await client.dlq.listMessages()).messages.find((m) => m.messageId === res.messageId));
    assert.equal(dlq.dlqId, res.messageId);
    assert.equal(dlq.responseStatus, 500);
    const retried = await client.dlq.retry(dlq.dlqId);
    assert.deepEqual(retried.responses, [{ messageId: res.messageId }]);
    const got = await delivered('dlq', 3);
    for (const r of got) assert.equal(await verify(r), true);
    assert.deepEqual(got.map((r) => r.headers['upstash-retried']), ['0', '1', '2']);
    assert.ok(got[1].at - got[0].at >= 1000, 'the first retry waited the expression\'s 1000 ms');
    assert.equal(got[2].headers['upstash-message-id'], res.messageId);
    await waitFor('the DLQ to empty', async () => ((await client.dlq.listMessages()).messages.length === 0 ? true : undefined));
  });

  it('runs a schedule in its time zone, with pause and resume', async () => {
    const url = `${hooks.url}/h/sched/ok`;
    // 09:30 in Kolkata (UTC+05:30, no DST) is 04:00 UTC.
    const { scheduleId: morning } = await client.schedules.create({ destination: url, cron: 'CRON_TZ=Asia/Kolkata 30 9 * * *', body: 'daily' });
    const s = await client.schedules.get(morning);
    assert.equal(s.cron, 'CRON_TZ=Asia/Kolkata 30 9 * * *');
    assert.equal(new Date(s.nextScheduleTime!).toISOString().slice(11, 16), '04:00');
    await client.schedules.pause({ schedule: morning });
    assert.equal((await client.schedules.get(morning)).isPaused, true);
    await client.schedules.resume({ schedule: morning });
    assert.equal((await client.schedules.get(morning)).isPaused, false);
    await client.schedules.delete(morning);
    // Every minute, upserted under our own id: the second create replaces the first.
    await client.schedules.create({ destination: url, cron: 'CRON_TZ=Asia/Kolkata * * * * *', body: 'first', scheduleId: 'every-minute' });
    await client.schedules.create({ destination: url, cron: 'CRON_TZ=Asia/Kolkata * * * * *', body: 'tick', scheduleId: 'every-minute' });
    assert.deepEqual((await client.schedules.list()).map((x) => x.scheduleId), ['every-minute']);
    const [got] = await delivered('sched');
    assert.equal(bodyOf(got), 'tick');
    assert.equal(got.headers['upstash-schedule-id'], 'every-minute');
    assert.equal(await verify(got), true);
    await client.schedules.delete('every-minute');
  });

  it('publishes to a URL group', async () => {
    await client.urlGroups.addEndpoints({ name: 'team', endpoints: [{ url: `${hooks.url}/h/group-a/ok` }, { url: `${hooks.url}/h/group-b/ok` }] });
    assert.deepEqual((await client.urlGroups.get('team')).endpoints.map((e) => e.url), [`${hooks.url}/h/group-a/ok`, `${hooks.url}/h/group-b/ok`]);
    const res = await client.publishJSON({ urlGroup: 'team', body: { to: 'all' } });
    assert.equal(res.length, 2);
    for (const key of ['group-a', 'group-b']) {
      const [got] = await delivered(key);
      assert.equal(got.headers['upstash-topic-name'], 'team');
      assert.equal(await verify(got), true);
    }
    await client.urlGroups.removeEndpoints({ name: 'team', endpoints: [{ url: `${hooks.url}/h/group-b/ok` }] });
    assert.equal((await client.urlGroups.list()).find((g) => g.name === 'team')?.endpoints.length, 1);
    await client.urlGroups.delete('team');
  });

  it('holds a flow to parallelism 1', async () => {
    const res = await Promise.all([1, 2, 3].map((n) =>
      client.publish({ url: `${hooks.url}/h/flow/sleep?ms=400`, body: String(n), flowControl: { key: 'one-at-a-time', parallelism: 1 } })));
    assert.equal(res.length, 3);
    const got = await delivered('flow', 3);
    assert.deepEqual(got.map((r) => r.inflight), [1, 1, 1]);
    for (const r of got) assert.equal(await verify(r), true);
  });

  it('publishes and verifies from Python with the standard library, as docs/qstash.md prints it', async (t) => {
    if (spawnSync('python3', ['--version']).status !== 0) return t.skip('python3 is not installed');
    const doc = readFileSync(new URL('../../docs/qstash.md', import.meta.url), 'utf8');
    const example = doc.match(/```python\n([\s\S]*?)```/)![1];
    const env = { ...process.env, QSTASH_URL: server.base, QSTASH_TOKEN: token };
    const url = `${hooks.url}/h/python/ok`;
    const pub = spawnSync('python3', ['-c', `${example}\nprint(json.dumps(publish(${JSON.stringify(url)}, '{"from": "python"}')))`], { env, encoding: 'utf8' });
    assert.equal(pub.status, 0, pub.stderr);
    const { messageId } = JSON.parse(pub.stdout) as { messageId: string };
    const [got] = await delivered('python');
    assert.equal(got.headers['upstash-message-id'], messageId);
    const check = (body: string) => spawnSync('python3', ['-c', `${example}\nprint(verify(os.environ["SIG"], base64.b64decode(os.environ["BODY"]), os.environ["URL"], [os.environ["K1"], os.environ["K2"]])["sub"])`], {
      env: { ...env, SIG: got.headers['upstash-signature'], BODY: body, URL: url, K1: keys.current, K2: keys.next }, encoding: 'utf8',
    });
    const ok = check(got.body);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), url);
    const tampered = check(Buffer.from('{"from": "pyth0n"}').toString('base64'));
    assert.notEqual(tampered.status, 0);
    assert.match(tampered.stderr, /body does not match/);
  });

  it('signs with the next key after a rotation (receivers holding both keep verifying)', async () => {
    const rotated = (await (await v2('/keys/rotate', { method: 'POST' })).json()) as typeof keys;
    assert.equal(rotated.current, keys.next);
    await client.publish({ url: `${hooks.url}/h/rotated/ok`, body: 'after rotation' });
    const [got] = await delivered('rotated');
    assert.equal(await verify(got, keys), true, 'a receiver still holding the old pair verifies with its next key');
    assert.equal(await verify(got, rotated), true);
  });

  it('answers 501 for what Torque does not do, and 400 naming a bad header', async () => {
    const queues = await v2('/queues');
    assert.equal(queues.status, 501);
    assert.match(((await queues.json()) as { error: { message: string } }).error.message, /queues/);
    await assert.rejects(client.publish({ url: `${hooks.url}/h/x/ok`, body: 'x', delay: '10y' as '10s' }), (e: Error & { status?: number }) => e.status === 400 && /Upstash-Delay/.test(e.message));
  });

  it('refuses a URL-encoded destination that holds dot segments, asking for one without them', async () => {
    // Sent unencoded, `x/../../` is removed before Torque runs (by fetch, and by the runtime for a raw
    // path), so the call would go to the other host: encoded, the dot segments reach Torque, which refuses them.
    const target = `http://elsewhere.invalid/x/../../${hooks.url.replace(/^http:\/\//, '')}/h/dots/ok`;
    const res = await v2(`/publish/${encodeURIComponent(target)}`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /URL-encode/);
    assert.equal(log('dots').length, 0);
  });
});
