import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { hostRefusal } from '../../hook/hosts';
import { getTopic, listTopics, type Topic } from '../../store/topics';
import { removeEndpoints, removeTopic, setTopic } from '../../tasks/topics';
import { apiError, notFound } from '../errors';
import { scope } from '../scope';
import type { AppEnv } from '../types';
import { pathName } from '../routes/params';
import { MAX_ENDPOINTS } from '../routes/topics';
import { checkName, jsonBody } from './headers';

// URL groups (QStash's name for topics) on Torque's topics: same rows, same fan-out on publish.
// Torque keeps an endpoint's URL only, so an endpoint's `name` is not kept.


const groupJson = (t: Topic) => ({ name: t.name, endpoints: t.endpoints.map((url) => ({ url })), createdAt: t.updatedAt, updatedAt: t.updatedAt });

const Endpoints = z.object({
  endpoints: z.array(z.object({ url: z.string().optional(), name: z.string().optional() })).min(1, 'must hold at least one endpoint'),
});

async function endpointsOf(c: Context<AppEnv>) {
  const name = checkName(pathName, c.req.param('name')!, 'name');
  const parsed = Endpoints.safeParse(await jsonBody(c, '{"endpoints": [{"url": "..."}]}'));
  if (!parsed.success) throw apiError(400, 'invalid_request', `endpoints: ${parsed.error.issues[0].message}`);
  const urls = parsed.data.endpoints.map((e, i) => {
    if (e.url === undefined) throw apiError(400, 'invalid_request', `endpoints[${i}].url: is required (Torque does not keep endpoint names)`);
    return e.url;
  });
  return { name, urls };
}

// Mounted at /v2/topics.
export const topicsV2 = new Hono<AppEnv>()
  .post('/:name/endpoints', async (c) => {
    const { name, urls } = await endpointsOf(c);
    urls.forEach((url, i) => {
      let ok = false;
      try {
        ok = ['http:', 'https:'].includes(new URL(url).protocol);
      } catch {}
      if (!ok) throw apiError(400, 'invalid_request', `endpoints[${i}].url: must be an absolute http: or https: URL`);
      const refusal = hostRefusal(url, c.get('config'));
      if (refusal) throw apiError(400, 'invalid_request', `endpoints[${i}].url: ${refusal}`);
    });
    const had = (await getTopic(c.get('db'), c.get('appId'), name))?.endpoints ?? [];
    const all = [...new Set([...had, ...urls])];
    if (all.length > MAX_ENDPOINTS) throw apiError(400, 'invalid_request', `endpoints: a URL group holds at most ${MAX_ENDPOINTS} endpoints`);
    await setTopic(scope(c), name, all);
    return c.body(null, 200);
  })
  .delete('/:name/endpoints', async (c) => {
    const { name, urls } = await endpointsOf(c);
    if (!(await removeEndpoints(scope(c), name, urls))) throw notFound('URL group', `"${name}"`);
    return c.body(null, 200);
  })
  .get('/', async (c) => c.json((await listTopics(c.get('db'), c.get('appId'), 1000)).map(groupJson)))
  .get('/:name', async (c) => {
    const topic = await getTopic(c.get('db'), c.get('appId'), c.req.param('name'));
    if (!topic) throw notFound('URL group', `"${c.req.param('name')}"`);
    return c.json(groupJson(topic));
  })
  .delete('/:name', async (c) => {
    if (!(await removeTopic(scope(c), c.req.param('name')))) throw notFound('URL group', `"${c.req.param('name')}"`);
    return c.body(null, 200);
  });
