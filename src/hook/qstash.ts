// QStash-compatible deliveries (tasks made through /v2): the Upstash-Signature JWT and the
// Upstash-* headers QStash receivers read. A /v2 task carries QSTASH_MARK among its stored headers
// (a torque- name, which no client can pass through, so it cannot be forged); it is removed before
// the call and stands for "sign this the QStash way with the app's current key".
export const QSTASH_MARK = 'torque-qstash';
/** Stored with the mark (not sent to the hook): the message's label, and its retry delay expression. */
export const QSTASH_LABEL = 'torque-qstash-label';
export const QSTASH_RETRY_DELAY = 'torque-qstash-retry-delay';

const utf8 = new TextEncoder();
const b64url = (bytes: Uint8Array, pad = false) => {
  const b64 = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
  return pad ? b64 : b64.replace(/=+$/, '');
};

const keys = new Map<string, Promise<CryptoKey>>();
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', utf8.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    if (keys.size > 1000) keys.clear(); // keys rotate; the map must not grow forever
    keys.set(secret, key);
  }
  return key;
}

/** How long a signature is valid (QStash: exp = iat + 300). */
export const SIGNATURE_TTL_S = 300;

/**
 * QStash's delivery signature: an HS256 JWT keyed with the signing key's UTF-8 bytes, whose `sub`
 * is the exact URL called and `body` the base64url SHA-256 of the raw body (present when empty).
 */
export async function qstashSignature(key: string, url: string, body: Uint8Array | null, nowS: number, jti = crypto.randomUUID()): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body ?? new Uint8Array()));
  const header = b64url(utf8.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const claims = { iss: 'Upstash', sub: url, exp: nowS + SIGNATURE_TTL_S, nbf: nowS, iat: nowS, jti: `jwt_${jti}`, body: b64url(digest, true) };
  const input = `${header}.${b64url(utf8.encode(JSON.stringify(claims)))}`;
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(key), utf8.encode(input)));
  return `${input}.${b64url(mac)}`;
}

/** True if the stored headers mark a /v2 task; removes the marks from what will be sent. */
export function takeQstashMark(headers: Headers): boolean {
  const marked = headers.has(QSTASH_MARK);
  headers.delete(QSTASH_MARK);
  headers.delete(QSTASH_LABEL);
  headers.delete(QSTASH_RETRY_DELAY);
  return marked;
}

/** Sets the per-attempt QStash headers: the message id, retries so far and a fresh signature. */
export async function signQstash(headers: Headers, task: { id: string; url: string; attempts: number }, key: string, body: Uint8Array | null, nowS: number) {
  headers.set('upstash-message-id', task.id);
  headers.set('upstash-retried', String(Math.max(0, task.attempts - 1)));
  headers.set('upstash-signature', await qstashSignature(key, task.url, body, nowS));
}

/** A /v2 task's Upstash-Retry-Delay expression, if it has one (read from its stored headers). */
export function storedRetryDelay(headers: string | null): string | undefined {
  if (!headers?.includes(QSTASH_RETRY_DELAY)) return undefined;
  try {
    return (JSON.parse(headers) as Record<string, string>)[QSTASH_RETRY_DELAY];
  } catch {
    return undefined; // (Torque writes these headers; a row it cannot read retries with the default backoff)
  }
}

/** The headers a message sends its hook, as QStash shows them ({name: [value]}), from stored headers. */
export function shownHeaders(stored: Record<string, string>, contentType?: string | null): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(stored)) if (!k.startsWith('torque-') && !k.startsWith('upstash-')) out[k] = [v];
  if (contentType) out['Content-Type'] = [contentType];
  return out;
}
