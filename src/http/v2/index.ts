import { Hono } from 'hono';
import { appSigningKeys, rotateAppSigningKeys } from '../../apps';
import { apiError } from '../errors';
import { scope } from '../scope';
import type { AppEnv } from '../types';
import { dlqApp, messagesApp } from './messages';
import { schedulesV2 } from './schedules';
import { batchV2, publishApp } from './send';
import { topicsV2 } from './topics';

// The QStash wire protocol (`/v2`), so the official QStash SDKs work against Torque with only
// their base URL and token changed (the token is an app's API key). Each route maps onto Torque's
// own use cases; see docs/qstash.md for what maps to what and every difference.

// Mounted in the API (app.ts) at /v2, whose guard has checked the app's key (an API key, the default
// for routes outside the document) and set config and databases before these run. Each resource is
// mounted under its prefix; those that start deliveries declare the rate limit on their routes.

// The app's current and next signing keys (made on first use), and their rotation.
const keysApp = new Hono<AppEnv>()
  .get('/', async (c) => c.json(await appSigningKeys(scope(c))))
  .post('/rotate', async (c) => c.json(await rotateAppSigningKeys(scope(c))));

export const v2App = new Hono<AppEnv>()
  .route('/publish', publishApp)
  .route('/batch', batchV2)
  .route('/messages', messagesApp)
  .route('/dlq', dlqApp)
  .route('/schedules', schedulesV2)
  .route('/topics', topicsV2)
  .route('/keys', keysApp);

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
