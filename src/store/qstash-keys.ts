import { eq } from 'drizzle-orm';
import type { DB } from '.';
import { randomToken } from '../ids';
import { qstashKeys } from './schema';

export type SigningKeys = { current: string; next: string };

// QStash's keys look like `sig_` + random text; receivers use the key's UTF-8 bytes as the HMAC key.
const mint = () => `sig_${randomToken(21)}`;

/** The app's signing keys, made on first use (two requests racing both end with the same keys). */
export async function signingKeys(db: DB, appId: string, now = Date.now()): Promise<SigningKeys> {
  const [row] = await db.select({ current: qstashKeys.current, next: qstashKeys.next }).from(qstashKeys).where(eq(qstashKeys.appId, appId));
  if (row) return row;
  await db.insert(qstashKeys).values({ appId, current: mint(), next: mint(), updatedAt: now }).onConflictDoNothing();
  const [made] = await db.select({ current: qstashKeys.current, next: qstashKeys.next }).from(qstashKeys).where(eq(qstashKeys.appId, appId));
  return made;
}

/** Rotation as QStash does it: next becomes current and a new next is made. */
export async function rotateSigningKeys(db: DB, appId: string, now = Date.now()): Promise<SigningKeys> {
  const had = await signingKeys(db, appId, now);
  const [row] = await db.update(qstashKeys).set({ current: had.next, next: mint(), updatedAt: now })
    .where(eq(qstashKeys.appId, appId)).returning({ current: qstashKeys.current, next: qstashKeys.next });
  return row;
}

// How long the consumer keeps a key it read: attempts in the same moments share one read, and an
// attempt after a rotation is signed with the new current key within this long.
const KEY_CACHE_MS = 5_000;

/**
 * The consumer's lookup of an app's current key: one read per app per KEY_CACHE_MS, and only for
 * apps that have /v2 tasks (no cost for any other delivery).
 */
export function currentKeyLookup(db: DB): (appId: string) => Promise<string> {
  const seen = new Map<string, { at: number; key: Promise<string> }>();
  return (appId) => {
    const hit = seen.get(appId);
    if (hit && Date.now() - hit.at < KEY_CACHE_MS) return hit.key;
    const key = signingKeys(db, appId).then((k) => k.current);
    key.catch(() => seen.delete(appId)); // a failed read is tried again by the next attempt
    seen.set(appId, { at: Date.now(), key });
    return key;
  };
}
