import type { Context } from 'hono';
import type { Scope } from '../scope';
import type { AppEnv } from './types';

/** The use cases' scope for a request whose caller is known (after the guard). */
export const scope = (c: Context<AppEnv>): Scope => ({ appId: c.get('appId'), config: c.get('config'), shards: c.get('shards'), env: c.env });
