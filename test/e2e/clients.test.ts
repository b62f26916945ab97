// The clients of client/ against `npm run dev` and a real hook server: the Python module (run by
// python3, standard library only) and the TypeScript client's resources beyond tasks.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { TorqueClient, TorqueError } from '../../client/index.ts';
import { DevServer, serveForSuite } from './dev-server.ts';

const SECRET = `whsec_${Buffer.from('torque-clients-e2e-secret-32bytes!').toString('base64')}`;
const server = new DevServer({ SIGNING_SECRET: SECRET, MIN_RETRY_DELAY: '1' });

describe('clients against npm run dev', { timeout: 300_000 }, () => {
  const suite = serveForSuite(server);

  it('client/torque.py: every method, end to end', async (t) => {
    if (spawnSync('python3', ['--version']).status !== 0) return t.skip('no python3');
    // Not spawnSync: the hook server answering the deliveries runs in this very process.
    const py = spawn('python3', ['test/e2e/python-client.py'], { env: { ...process.env, TORQUE_URL: server.base, HOOK_URL: suite.hooks.url, SIGNING_SECRET: SECRET } });
    let stdout = '';
    let stderr = '';
    py.stdout.on('data', (b) => (stdout += b));
    py.stderr.on('data', (b) => (stderr += b));
    const status = await new Promise<number | null>((r) => py.on('close', r));
    assert.equal(status, 0, `${stdout}\n${stderr}\n${server.output.slice(-3000)}`);
    assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)!), { ok: true });
  });

  it('the TypeScript client: flows, topics, schedules, destinations, and ids it refuses', async () => {
    const torque = new TorqueClient({ url: server.base });
    assert.equal((await torque.flows.put('ts-flow', { rate: 3, parallelism: 1 })).rate, 3);
    assert.equal((await torque.flows.pause('ts-flow')).paused, true);
    assert.equal((await torque.flows.get('ts-flow')).running, 0);
    assert.ok((await torque.flows.list()).flows.some((f) => f.key === 'ts-flow'));
    await torque.flows.delete('ts-flow');

    await torque.topics.put('ts-topic', [`${suite.hooks.url}/h/ts-a/ok`, `${suite.hooks.url}/h/ts-b/ok`]);
    const published = await torque.topics.publish('ts-topic', new Uint8Array([1, 2, 3]), { headers: { 'content-type': 'application/octet-stream' }, flow_key: 'ts-pub' });
    assert.deepEqual(published.map((t) => t.flow_key), ['ts-pub', 'ts-pub']);
    assert.equal((await torque.topics.get('ts-topic')).endpoints.length, 2);
    await torque.topics.delete('ts-topic');

    const schedule = await torque.schedules.create({ cron: '*/5 * * * *', url: `${suite.hooks.url}/h/ts-s/ok`, name: 'ts' });
    assert.equal((await torque.schedules.pause(schedule.id)).paused, true);
    assert.equal((await torque.schedules.resume(schedule.id)).paused, false);
    assert.ok((await torque.schedules.list()).schedules.some((s) => s.id === schedule.id));
    await torque.schedules.delete(schedule.id);
    await assert.rejects(torque.schedules.get(schedule.id), (e: unknown) => e instanceof TorqueError && e.status === 404);

    const task = await torque.enqueue(`${suite.hooks.url}/h/ts-cb/ok`, 'x=1', { flow_key: 'ts-cb', callback: `${suite.hooks.url}/h/ts-cb-report/ok`, delay: 60 });
    assert.equal(task.flow_key, 'ts-cb');
    assert.equal(task.callback, `${suite.hooks.url}/h/ts-cb-report/ok`);
    assert.ok(Array.isArray(await torque.destinations.list()));
    await assert.rejects(torque.get('../stats'), (e: unknown) => e instanceof TorqueError && e.code === 'invalid_request');
    assert.equal(typeof (await torque.stats()).circuits.open, 'number');
  });
});
