import { bindingShard, ConfigError, type Config } from '../config';
import { shardOfId } from '../ids';
import { openDb, type DB } from '.';

// One D1 database is one single-threaded machine with 10 GB: Torque spreads tasks over several.
// A task lives in one database for its whole life, named by its id's last char; apps and keys live
// in `DB` (the home database). Each database holds a full schema and runs the same statements on
// its own share of the tasks, so everything per task stays one database's business, and only
// reads that span an app (listing, stats, bulk operations) ask them all.

export interface Shard {
  n: number; // the number a task id names: 0 for DB, k for DB_k
  binding: string;
  db: DB;
}

export interface Shards {
  all: Shard[];
  /** Databases that take new tasks (all but the draining ones). */
  open: Shard[];
  home: Shard;
  /** The database a task id names, if it is one of this deployment's. */
  of(id: string): Shard | undefined;
  /** Where a new task (or a whole batch) goes. */
  pick(): Shard;
  /** Where a task with this idempotency key goes: the same database for the same key, every time. */
  forKey(app: string, key: string): Shard;
}

const cache = new WeakMap<object, Shards>();

export function openShards(env: Env, cfg: Config): Shards {
  const hit = cache.get(env);
  if (hit) return hit;
  const all = cfg.DATABASES.map((binding) => {
    const d1 = (env as unknown as Record<string, D1Database | undefined>)[binding];
    if (!d1 || typeof d1.prepare !== 'function') throw new ConfigError(`Invalid Torque configuration: DATABASES names ${binding}, which is not a D1 binding of this Worker (add it to wrangler.toml)`);
    return { n: bindingShard(binding), binding, db: openDb(d1) };
  });
  const open = all.filter((s) => !cfg.DRAIN_DATABASES.includes(s.binding));
  const byN = new Map(all.map((s) => [s.n, s]));
  const shards: Shards = {
    all,
    open,
    home: byN.get(0)!,
    of: (id) => byN.get(shardOfId(id) ?? -1),
    pick: () => open[Math.floor(Math.random() * open.length)],
    forKey: (app, key) => open[keyHash(`${app}\n${key}`) % open.length],
  };
  cache.set(env, shards);
  return shards;
}

/** FNV-1a: a stable spread of keys over databases (not a secret, so no need for a keyed hash). */
function keyHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
