// Standard Webhooks v1 signing. The `standardwebhooks` package signs strings (it decodes a
// Buffer payload as UTF-8 first), which would corrupt binary bodies; the spec signs raw bytes,
// so this signs `${id}.${timestamp}.` + body bytes with WebCrypto. Hooks verify with the
// library as usual (see README).
const keys = new Map<string, Promise<CryptoKey>>();

function importKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    const raw = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0));
    key = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    keys.set(secret, key);
  }
  return key;
}

export async function signatureHeaders(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: Uint8Array | null,
): Promise<Record<string, string>> {
  const prefix = new TextEncoder().encode(`${id}.${timestampSeconds}.`);
  const data = new Uint8Array(prefix.length + (body?.length ?? 0));
  data.set(prefix);
  if (body) data.set(body, prefix.length);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await importKey(secret), data));
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${btoa(String.fromCharCode(...mac))}`,
  };
}
