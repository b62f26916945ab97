import type { Config } from '../config';
import type { DB } from '../store';

/** The one Hono env type every sub-app uses. `app` is the caller's application (tenant) id. */
export type AppEnv = {
  Bindings: Env;
  Variables: { app: string; config: Config; db: DB };
};
