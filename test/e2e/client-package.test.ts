// client/ is a package: `npm pack` builds ESM JavaScript and .d.ts from its TypeScript, and the
// tarball installs into an empty project on the machine's own Node 20, where it imports, type-checks
// and verifies a signature.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

// The machine's Node (20 here), not the Node 22 that npm scripts run on.
const NODE = process.env.SYSTEM_NODE ?? '/usr/bin/node';
const NPM = process.env.SYSTEM_NPM ?? '/usr/bin/npm';
const TSC = resolve('node_modules/.bin/tsc');

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const CONSUMER = `
import { TorqueClient, TorqueError, verifyTorqueSignature } from 'torque-client';
import { verifyTorqueSignature as verify2 } from 'torque-client/verify';
const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const body = new Uint8Array([0, 255, 1, 254]);
const id = '01KB3M7Q2Z8Y4X6W5V3T2S1R0Q', ts = String(Math.floor(Date.now() / 1000));
const key = await crypto.subtle.importKey('raw', Buffer.from('0123456789abcdef0123456789abcdef'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
const mac = await crypto.subtle.sign('HMAC', key, Buffer.concat([Buffer.from(id + '.' + ts + '.'), body]));
const headers = { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': 'v1,' + Buffer.from(mac).toString('base64') };
const torque = new TorqueClient({ url: 'http://127.0.0.1:9' });
let refused = '';
try { await torque.get('../stats'); } catch (e) { refused = e instanceof TorqueError ? e.code : String(e); }
console.log(JSON.stringify({
  node: process.versions.node,
  genuine: await verifyTorqueSignature(secret, headers, body),
  tampered: await verify2(secret, headers, new Uint8Array([0, 255, 1, 253])),
  resources: [typeof torque.flows.put, typeof torque.topics.publish, typeof torque.schedules.create, typeof torque.destinations.reset],
  refused,
}));
`;

const TYPED = `
import { TorqueClient, type Task, type Schedule, type Stats } from 'torque-client';
const torque = new TorqueClient({ url: 'https://torque.example', apiKey: 'tq_x' });
export async function use(): Promise<[Task, Schedule, Stats]> {
  const task = await torque.enqueue('https://example.com/hook', 'x=1', { flow_key: 'a', callback: 'https://example.com/cb', delay: 5 });
  const schedule = await torque.schedules.create({ cron: '* * * * *', url: 'https://example.com/hook' });
  return [task, schedule, await torque.stats()];
}
// @ts-expect-error: status is a TaskStatus
export const wrong: Task['status'] = 'done';
`;

describe('the client package', { timeout: 240_000, skip: !existsSync(NODE) && `no system node at ${NODE}` }, () => {
  it('packs, installs into an empty Node 20 project, imports, type-checks and verifies', () => {
    const dir = mkdtempSync(join(tmpdir(), 'torque-client-'));
    try {
      run(NODE, [NPM, 'pack', '--pack-destination', dir], resolve('client'));
      const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
      const app = join(dir, 'app');
      run(NODE, ['-e', `require('fs').mkdirSync(${JSON.stringify(app)})`], dir);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      run(NODE, [NPM, 'install', join(dir, tgz)], app);

      writeFileSync(join(app, 'main.mjs'), CONSUMER);
      const out = JSON.parse(run(NODE, ['main.mjs'], app));
      assert.match(out.node, /^\d+\./);
      assert.deepEqual({ ...out, node: undefined }, { node: undefined, genuine: true, tampered: false, resources: ['function', 'function', 'function', 'function'], refused: 'invalid_request' });

      writeFileSync(join(app, 'typed.ts'), TYPED);
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, lib: ['es2023', 'dom'], types: [] }, files: ['typed.ts'] }));
      run(TSC, ['-p', 'tsconfig.json'], app);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
