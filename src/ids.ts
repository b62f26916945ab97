// Task ids: 10 chars of millisecond time + 15 random chars + 1 char naming the D1 database the
// task lives in, Crockford base32 (the ULID layout). Written here rather than pulled in because it
// is a dozen lines and needs only WebCrypto. Lexicographic order is creation order, which gives
// newest-first listing and cursors (merged across databases) for free; the last char sends a
// lookup by id straight to its database, whatever databases were added since.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const MAX_SHARDS = ALPHABET.length;
const ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export function newId(now = Date.now(), shard = 0): string {
  let time = '';
  for (let i = 0, t = now; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time;
  const random = crypto.getRandomValues(new Uint8Array(15));
  let rest = '';
  for (const b of random) rest += ALPHABET[b % 32];
  return time + rest + ALPHABET[shard];
}

/** The database number an id names, or undefined for a string that is not a task id. */
export function shardOfId(id: string): number | undefined {
  return ID.test(id) ? ALPHABET.indexOf(id[25]) : undefined;
}

/** A random URL-safe token with `bytes` bytes of entropy (for API keys). */
export function randomToken(bytes = 24): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The smallest id that could be made at `ms`: every id made at or before `ms - 1` sorts below it. */
export function idFloor(ms: number): string {
  return newId(ms).slice(0, 10) + '0'.repeat(16);
}
