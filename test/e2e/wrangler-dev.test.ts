// End to end, the way a user runs Torque: `npm run dev` (wrangler dev, local D1 + Queues, the
// local cron ticker), a real hook server on loopback, and HTTP from outside, including a
// SIGKILL of the whole dev server mid-run and a restart on the same local state.
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { TorqueClient, TorqueError } from '../../client/index.ts';
import { verifyTorqueSignature } from '../../client/verify.ts';
import { startHookServer, type Received } from '../hook-server.ts';
import { DevServer, waitFor } from './dev-server.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
// Short budget and grace so a task caught mid-attempt by the kill is recovered in seconds.
const server = new DevServer({
  MIN_RETRY_DELAY: '1', MAX_RETRY_DELAY: '2', ADMIN_TOKEN: 'e2e-admin', SWEEP_GRACE: '3',
  CONSUMER_BUDGET: '10', MAX_TIMEOUT: '10', DEFAULT_TIMEOUT: '5', SIGNING_SECRET: SECRET, SWEEP_WALK_LAG: '5',
}, 1000, 2); // two local D1 databases: tasks spread over both (README, Scaling out)
const BASE = server.base;
let hooks: Awaited<ReturnType<typeof startHookServer>>;

const task = async (id: string) => (await (await fetch(`${BASE}/tasks/${id}`)).json()) as Record<string, any>;
const log = (key: string): Received[] => hooks.log.get(key) ?? [];

async function enqueue(url: string, params: Record<string, string> = {}, body = 'a=1') {
  const res = await fetch(`${BASE}/?${new URLSearchParams({ url, ...params })}`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(res.status, 201);
  return (await res.json()) as { id: string };
}

describe('torque under wrangler dev', { timeout: 300_000 }, () => {
  before(async () => {
    hooks = await startHookServer();
    await server.start();
  });
  after(async () => {
    await server.stop();
    hooks.server.closeAllConnections();
    hooks.server.close();
  });

  it("serves the banner and the README's first Python example, as printed", async (t) => {
    const banner = (await (await fetch(`${BASE}/`)).json()) as { name: string };
    assert.equal(banner.name, 'torque');
    if (spawnSync('python3', ['-c', 'import requests']).status !== 0) return t.skip('python3 requests not installed');
    // The README's first example, as printed, pointed at a loopback hook.
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = readme.match(/```python\n([\s\S]*?)```/)![1];
    assert.match(example, /TORQUE_URL/);
    const script = `${example.replace('http://127.0.0.1:9000/hooks/welcome?lang=en', `${hooks.url}/h/seed/ok?lang=en`)}
print(response.status_code, response.headers['Location'])`;
    const py = spawnSync('python3', ['-c', script], { env: { ...process.env, TORQUE_URL: BASE }, encoding: 'utf8' });
    assert.match(py.stdout, /^201 \/tasks\/[0-9A-Z]{26}$/m, py.stderr);
    await waitFor('the seed hook', async () => (log('seed').length ? true : undefined));
    const [got] = log('seed');
    assert.equal(got.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(Buffer.from(got.body, 'base64').toString(), 'new_user_id=1234');
    assert.equal(got.path, '/h/seed/ok?lang=en', 'the hook URL went through encoded, query and all');
  });

  it('lets an operator manage apps and keys with npm run admin', () => {
    const admin = (...args: string[]) =>
      spawnSync('node', ['scripts/admin.mjs', ...args], { encoding: 'utf8', env: { ...process.env, TORQUE_URL: BASE, TORQUE_ADMIN_TOKEN: 'e2e-admin' } });
    const created = admin('create-app', 'shop');
    assert.equal(created.status, 0, created.stderr);
    const { app, key_id, api_key } = JSON.parse(created.stdout);
    assert.match(api_key, /^tq_/);
    assert.match(admin('list-apps').stdout, new RegExp(app.id));
    const added = admin('add-key', app.id);
    assert.equal(added.status, 0, added.stderr);
    assert.equal(admin('revoke-key', key_id).status, 0);
    assert.equal(admin('revoke-key', key_id).status, 1); // already revoked: 404
    assert.equal(spawnSync('node', ['scripts/admin.mjs', 'create-app', 'x'], { env: { ...process.env, TORQUE_ADMIN_TOKEN: '' } }).status, 2);
  });

  it('serves an OpenAPI document that validates against the OpenAPI 3.1 schema', async () => {
    const doc = await (await fetch(`${BASE}/openapi.json`)).json();
    const validator = new Validator();
    const result = await validator.validate(doc as Parameters<Validator['validate']>[0]);
    assert.equal(validator.version, '3.1');
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
  });

  it("signs calls so that the README's verifiers (Python as printed, and client/verify.ts) accept binary bodies and reject tampering", async (t) => {
    const { id } = await enqueue(`${hooks.url}/h/signed/ok`, {}, 'amount=10&currency=EUR');
    const binary = [Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3]), randomBytes(257), randomBytes(4096)];
    for (const bytes of binary) {
      const res = await fetch(`${BASE}/?url=${encodeURIComponent(`${hooks.url}/h/signed/ok`)}`, { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(res.status, 201);
    }
    await waitFor('the signed calls', async () => (log('signed').length === 1 + binary.length ? true : undefined));
    // Deliveries arrive in no set order (several consumer invocations, two databases).
    const got = log('signed').find((r) => r.headers['webhook-id'] === id);
    assert.ok(got, `task ${id} was delivered with its id as webhook-id`);
    // The verifier exactly as docs/signing.md prints it, run by python3 against what the hook received.
    const readme = readFileSync('docs/signing.md', 'utf8');
    const verifier = readme.match(/```python\n(import base64, hashlib, hmac, time\n[\s\S]*?)```/)?.[1];
    assert.ok(verifier, 'docs/signing.md has the Python verifier');
    const run = (headers: Record<string, string>, body: Buffer) =>
      spawnSync('python3', ['-c', `${verifier}\nimport json, sys\nd = json.load(sys.stdin)\nprint(verify(d['secret'], d['headers'], base64.b64decode(d['body'])))`], {
        input: JSON.stringify({ secret: SECRET, headers, body: body.toString('base64') }), encoding: 'utf8',
      });
    if (run(got.headers, Buffer.alloc(0)).error) return t.skip('python3 is not available');
    for (const delivery of log('signed')) {
      const body = Buffer.from(delivery.body, 'base64');
      const tampered = Buffer.from(body);
      tampered[0] ^= 1;
      assert.equal(run(delivery.headers, body).stdout.trim(), 'True', run(delivery.headers, body).stderr);
      assert.equal(run(delivery.headers, tampered).stdout.trim(), 'False');
      assert.equal(await verifyTorqueSignature(SECRET, delivery.headers, body), true);
      assert.equal(await verifyTorqueSignature(SECRET, delivery.headers, tampered), false);
    }
  });

  it("stops a two-task loop through Torque's own replay API (400 loop_detected)", async () => {
    const victim = await enqueue(`${hooks.url}/h/loopvictim/ok`);
    await waitFor('the victim', async () => ((await task(victim.id)).status === 'completed' ? true : undefined));
    // Two tasks whose hook is Torque's bulk replay of completed tasks: before loop protection they
    // replayed each other and every completed task of the app, forever.
    const loops = [await enqueue(`${BASE}/tasks/retry?status=completed`, { max_retries: '1' }), await enqueue(`${BASE}/tasks/retry?status=completed`, { max_retries: '1' })];
    for (const l of loops) {
      const t = await waitFor('the looping task to fail', async () => {
        const t = await task(l.id);
        return t.status === 'failed' ? t : undefined;
      });
      assert.equal(t.last_status_code, 400);
      assert.equal(t.attempts, 2);
    }
    assert.equal(log('loopvictim').length, 1);
    assert.equal((await task(victim.id)).attempts, 1);
  });

  it('is driven end to end by the typed client (client/index.ts)', async () => {
    const torque = new TorqueClient({ url: BASE });
    const bytes = new Uint8Array([0, 255, 7, 128]);
    const task = await torque.enqueue(`${hooks.url}/h/client/ok`, bytes, { headers: { 'content-type': 'application/octet-stream', 'X-Tenant': 'acme' }, max_retries: 2, idempotencyKey: 'client-1' });
    assert.equal(task.status, 'pending');
    assert.equal((await torque.enqueue(`${hooks.url}/h/client/ok`, bytes, { idempotencyKey: 'client-1' })).id, task.id);
    const [b1, b2] = await torque.enqueueBatch([{ url: `${hooks.url}/h/client/ok`, body: bytes }, { url: `${hooks.url}/h/client/ok`, body: 'text', delay: 3600 }]);
    const done = await waitFor('the client task', async () => {
      const t = await torque.get(task.id);
      return t.status === 'completed' ? t : undefined;
    });
    assert.equal(done.attempts, 1);
    const got = log('client').find((r) => r.headers['torque-task-id'] === task.id)!;
    assert.deepEqual([...Buffer.from(got.body, 'base64')], [...bytes]);
    assert.equal(got.headers['x-tenant'], 'acme');
    assert.equal((await torque.attempts(task.id)).length, 1);
    await waitFor('the batch task', async () => ((await torque.get(b1.id)).status === 'completed' ? true : undefined));
    const ids: string[] = [];
    for await (const t of torque.all()) ids.push(t.id);
    assert.ok(ids.includes(task.id) && ids.includes(b2.id));
    assert.equal((await torque.list({ status: 'pending', limit: 100 })).tasks.some((t) => t.id === b2.id), true);
    assert.equal((await torque.retry(b2.id)).status, 'pending');
    await torque.delete(b2.id);
    await assert.rejects(torque.get(b2.id), (e: unknown) => e instanceof TorqueError && e.status === 404 && e.code === 'not_found');
    await assert.rejects(torque.enqueue('ftp://nope'), (e: unknown) => e instanceof TorqueError && e.status === 400 && /url/.test(e.message));
    const stats = await torque.stats();
    assert.ok(stats.tasks.completed >= 2);
  });

  it("paces a flow with its Durable Object under wrangler dev: parallelism 1, never two calls at once", async () => {
    const put = await fetch(`${BASE}/flows/e2e-one`, { method: 'PUT', body: JSON.stringify({ parallelism: 1 }), headers: { 'content-type': 'application/json' } });
    assert.equal(put.status, 200);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await enqueue(`${hooks.url}/h/e2e-flow/sleep?ms=400`, { flow_key: 'e2e-one' })).id);
    for (const id of ids) await waitFor(`flow task ${id}`, async () => ((await task(id)).status === 'completed' ? true : undefined), 60_000);
    const calls = log('e2e-flow');
    assert.equal(calls.length, 3);
    assert.equal(Math.max(...calls.map((c) => c.inflight)), 1);
    for (const id of ids) assert.equal((await task(id)).attempts, 1);
  });

  it('calls a hook, retries it after an error, and completes it', async () => {
    const { id } = await enqueue(`${hooks.url}/h/flaky/seq?codes=503,200`, { max_retries: '3' });
    const done = await waitFor('completion', async () => {
      const t = await task(id);
      return t.status === 'completed' ? t : undefined;
    });
    assert.equal(done.attempts, 2);
    assert.equal(log('flaky').length, 2);
    assert.equal(log('flaky')[1].headers['torque-task-retry-count'], '1');
  });

  it('loses no task when wrangler dev is killed with SIGKILL and restarted', async () => {
    const ids: string[] = [];
    // Some due at once, some delayed past the kill, some slow enough to be mid-attempt.
    for (let i = 0; i < 10; i++) ids.push((await enqueue(`${hooks.url}/h/kill/ok`, { delay: '2' })).id);
    // First call hangs past the 2 s timeout (or past the kill), the next one answers 200.
    for (let i = 0; i < 4; i++) ids.push((await enqueue(`${hooks.url}/h/killslow${i}/seq?codes=sleep,200&ms=3000`, { timeout: '2' })).id);
    for (let i = 0; i < 10; i++) ids.push((await enqueue(`${hooks.url}/h/kill/ok`)).id);
    await new Promise((r) => setTimeout(r, 300));
    await server.kill();
    await server.start(); // same local state (--persist-to)
    for (const id of ids) {
      await waitFor(`task ${id}`, async () => {
        const t = await task(id);
        return t.status === 'completed' ? t : undefined;
      }, 90_000);
    }
    const delivered = new Set(log('kill').map((r) => r.headers['torque-task-id']));
    for (const id of ids.filter((_, i) => i < 10 || i >= 14)) assert.ok(delivered.has(id), `task ${id} was never delivered`);
    // They lived in both databases (an id's last char names its database: 0 for DB, 1 for DB_1).
    assert.deepEqual(new Set(ids.map((id) => id.at(-1))), new Set(['0', '1']));
    const listed = new Set<string>();
    for (let cursor = ''; ;) {
      const page = (await (await fetch(`${BASE}/tasks?limit=7${cursor}`)).json()) as { tasks: { id: string }[]; next_cursor: string | null };
      for (const t of page.tasks) listed.add(t.id);
      if (!page.next_cursor) break;
      cursor = `&cursor=${page.next_cursor}`;
    }
    for (const id of ids) assert.ok(listed.has(id), `task ${id} is not listed`);
  });
});
