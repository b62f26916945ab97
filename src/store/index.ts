import { drizzle } from 'drizzle-orm/d1';
import * as schema from './schema';

export type DB = ReturnType<typeof create>;

const create = (d1: D1Database) => drizzle(d1, { schema });

// Building drizzle's relational schema costs CPU on every call; a binding lives as long as its
// isolate, so one instance per binding is enough.
const cache = new WeakMap<D1Database, DB>();

export function openDb(d1: D1Database): DB {
  let db = cache.get(d1);
  if (!db) cache.set(d1, (db = create(d1)));
  return db;
}
