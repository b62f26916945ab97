import type { Config } from './config';
import type { Shards } from './store/shards';

/**
 * What a use case acts for and with: the caller's app, the config, the databases (the home one is
 * `shards.home`) and the bindings (queues, Durable Objects). One value in place of the same four
 * positional arguments everywhere; plain values, so use cases take no Hono types (the API builds
 * it from a request with src/http/scope.ts).
 */
export type Scope = { appId: string; config: Config; shards: Shards; env: Env };
