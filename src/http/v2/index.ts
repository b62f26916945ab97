import { Hono } from 'hono';
import { rotateSigningKeys, signingKeys } from '../../store/qstash-keys';
import { apiError } from '../errors';
import type { AppEnv } from '../types';
import { messagesApp } from './messages';
import { schedulesV2 } from './schedules';
import { sendApp } from './send';
import { topicsV2 } from './topics';

// The QStash wire protocol (`/v2`), so the official QStash SDKs work against Torque with only
// their base URL and token changed (the token is an app's API key). Each route maps onto Torque's
// own use cases; see docs/qstash.md for what maps to what and every difference.

export const v2App = new Hono<AppEnv>();

// Mounted in the API (app.ts), whose guard has checked the app's key (an API key, the default for
// routes that declare no other security) and set config and databases before these run.

v2App.route('/', sendApp);
v2App.route('/', messagesApp);
v2App.route('/', schedulesV2);
v2App.route('/', topicsV2);

// The app's current and next signing keys (made on first use), and their rotation.
v2App.get('/keys', async (c) => c.json(await signingKeys(c.get('db'), c.get('app'))));
v2App.post('/keys/rotate', async (c) => c.json(await rotateSigningKeys(c.get('db'), c.get('app'))));

// What QStash has and Torque does not: a 501 that says so, instead of a bare 404.
const UNSUPPORTED: [RegExp, string][] = [
  [/^\/(queues|enqueue)(\/|$)/, 'ordered queues (use Upstash-Flow-Control-Key with parallelism=1 for one-at-a-time delivery)'],
  [/^\/(events|logs)(\/|$)/, 'event logs (GET /v2/messages/{id} shows where a message is; the native GET /tasks/{id}/attempts shows each attempt)'],
  [/^\/workflows(\/|$)/, 'Upstash Workflow'],
  [/^\/(flowControl|globalParallelism)(\/|$)/, 'the flow control API (the native /flows API shows, pauses and resumes flows)'],
  [/^\/(llm|chat|email)(\/|$)/, 'LLM and email APIs'],
];

v2App.all('*', (c) => {
  const path = new URL(c.req.url).pathname.replace(/^\/v2/, '');
  const hit = UNSUPPORTED.find(([re]) => re.test(path));
  if (hit) throw apiError(501, 'not_implemented', `Torque does not implement ${hit[1]}`);
  throw apiError(404, 'not_found', `no QStash route for ${c.req.method} /v2${path}`);
});
