import { randomToken } from './ids';
import { mintKey } from './keys';
import type { Scope } from './scope';
import type { DB } from './store';
import { addKey, createApp, revokeKey } from './store/apps';
import { rotateSigningKeys, signingKeys, type SigningKeys } from './store/qstash-keys';

// Applications (tenants) and their keys: API keys, made and revoked through the admin API (home
// database, no app scope), and an app's QStash signing keys (/v2/keys).

/** A new API key for an app, stored hashed: the key itself is returned only now. */
export async function issueKey(db: DB, appId: string): Promise<{ keyId: string; apiKey: string }> {
  const key = await mintKey();
  await addKey(db, { id: key.keyId, appId, hash: key.hash }, Date.now());
  return { keyId: key.keyId, apiKey: key.apiKey };
}

/** Creates an application and its first API key. */
export async function createAppWithKey(db: DB, name: string) {
  const id = `app_${randomToken(9).replace(/[-_]/g, 'x')}`;
  await createApp(db, { id, name }, Date.now());
  return { id, name, key: await issueKey(db, id) };
}

/** Revokes an API key; false if there is no such key. */
export const revokeApiKey = (db: DB, keyId: string): Promise<boolean> => revokeKey(db, keyId, Date.now());

type App = Pick<Scope, 'appId' | 'shards'>;

/** The app's QStash signing keys, current and next (made on first use). */
export const appSigningKeys = (s: App): Promise<SigningKeys> => signingKeys(s.shards.home.db, s.appId);

/** Rotation as QStash does it: next becomes current, and a new next is made. */
export const rotateAppSigningKeys = (s: App): Promise<SigningKeys> => rotateSigningKeys(s.shards.home.db, s.appId);
