import type { Config } from '../config';
import type { DB } from '../store';
import type { Shards } from '../store/shards';

/** The one Hono env type every sub-app uses. `appId` is the caller's application (tenant) id. */
export type AppEnv = {
  Bindings: Env;
  // db: the home database (apps and keys); shards: every database tasks live in.
  Variables: { appId: string; config: Config; db: DB; shards: Shards };
};
