#!/usr/bin/env node
// Operator CLI for the admin API: `npm run admin -- <command>`.
// TORQUE_URL (default http://localhost:8787) and TORQUE_ADMIN_TOKEN (the ADMIN_TOKEN secret).
const usage = `usage: npm run admin -- <command>
  create-app <name>     create an application and print its first API key (shown once)
  list-apps             list applications
  add-key <app id>      add an API key to an application (rotation: add, deploy clients, revoke)
  revoke-key <key id>   revoke an API key
env: TORQUE_URL (default http://localhost:8787), TORQUE_ADMIN_TOKEN (required)`;

const [command, arg] = process.argv.slice(2);
const base = (process.env.TORQUE_URL ?? 'http://localhost:8787').replace(/\/$/, '');
const token = process.env.TORQUE_ADMIN_TOKEN;
const routes = {
  'create-app': () => ['POST', '/admin/apps', { name: arg }],
  'list-apps': () => ['GET', '/admin/apps'],
  'add-key': () => ['POST', `/admin/apps/${encodeURIComponent(arg)}/keys`],
  'revoke-key': () => ['DELETE', `/admin/keys/${encodeURIComponent(arg)}`],
};
const needsArg = command && command !== 'list-apps';
if (!routes[command] || (needsArg && !arg) || !token) {
  console.error(!token && routes[command] ? 'TORQUE_ADMIN_TOKEN is not set\n' + usage : usage);
  process.exit(2);
}
const [method, path, body] = routes[command]();
const res = await fetch(base + path, {
  method,
  headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
  body: body ? JSON.stringify(body) : undefined,
});
const text = await res.text();
if (!res.ok) {
  console.error(`${res.status} ${text}`);
  process.exit(1);
}
console.log(text ? JSON.stringify(JSON.parse(text), null, 2) : `${res.status} done`);
