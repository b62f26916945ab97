import type { Scope } from '../scope';
import { deleteTopic, getTopic, putTopic, type Topic } from '../store/topics';

// Topics (QStash's URL groups) as the API and /v2 change them; publishing to one is publish()
// (idempotent.ts). Rows live in the home database.

type App = Pick<Scope, 'appId' | 'shards'>;

/** Sets a topic's endpoints (creating it). */
export const setTopic = (s: App, name: string, endpoints: string[]): Promise<Topic> => putTopic(s.shards.home.db, s.appId, name, endpoints, Date.now());

/** Deletes a topic (tasks already published stay); false if the app has no such topic. */
export const removeTopic = (s: App, name: string): Promise<boolean> => deleteTopic(s.shards.home.db, s.appId, name);

/**
 * Takes endpoints out of a topic. A topic with no endpoint left is deleted (as in QStash): nothing
 * could be published to it. False if the app has no such topic.
 */
export async function removeEndpoints(s: App, name: string, urls: string[]): Promise<boolean> {
  const topic = await getTopic(s.shards.home.db, s.appId, name);
  if (!topic) return false;
  const left = topic.endpoints.filter((u) => !urls.includes(u));
  if (left.length === 0) await removeTopic(s, name);
  else await setTopic(s, name, left);
  return true;
}
