import { randomToken } from './ids';

// API keys look like `tq_<key id>_<secret>`. The id finds the row; only SHA-256 of the secret is
// stored. A fast hash is right here: the secret is 192 random bits, not a password to brute-force.
const KEY_RE = /^tq_([A-Za-z0-9-]{8,40})_([A-Za-z0-9_-]{20,100})$/;

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function mintKey(): Promise<{ keyId: string; apiKey: string; hash: string }> {
  const keyId = randomToken(9).replace(/_/g, '-');
  const secret = randomToken(24);
  return { keyId, apiKey: `tq_${keyId}_${secret}`, hash: await sha256Hex(secret) };
}

export function parseKey(apiKey: string): { keyId: string; secret: string } | null {
  const m = KEY_RE.exec(apiKey.trim());
  return m ? { keyId: m[1], secret: m[2] } : null;
}

/** Constant-time comparison of a presented secret with a stored hash. */
export async function secretMatches(secret: string, hash: string): Promise<boolean> {
  const a = new TextEncoder().encode(await sha256Hex(secret));
  const b = new TextEncoder().encode(hash);
  return a.length === b.length && crypto.subtle.timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header (any case of Bearer), or undefined. */
export const bearerToken = (authorization: string | undefined) => authorization?.match(/^Bearer\s+(.+)$/i)?.[1];

export async function tokensEqual(a: string, b: string): Promise<boolean> {
  // Hash both first so the comparison length never depends on the secret.
  const [ha, hb] = await Promise.all([sha256Hex(a), sha256Hex(b)]);
  return crypto.subtle.timingSafeEqual(new TextEncoder().encode(ha), new TextEncoder().encode(hb));
}
