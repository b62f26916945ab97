// Task ids: 10 chars of millisecond time + 16 random chars, Crockford base32 (the ULID layout).
// Written here rather than pulled in because it is a dozen lines and needs only WebCrypto.
// Lexicographic order is creation order, which gives newest-first listing and cursors for free.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newId(now = Date.now()): string {
  let time = '';
  for (let i = 0, t = now; i < 10; i++, t = Math.floor(t / 32)) time = ALPHABET[t % 32] + time;
  const random = crypto.getRandomValues(new Uint8Array(16));
  let rest = '';
  for (const b of random) rest += ALPHABET[b % 32];
  return time + rest;
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
