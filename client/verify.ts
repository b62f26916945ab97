// Verifies Torque's Standard Webhooks signatures over the RAW body bytes, in any runtime with
// WebCrypto (Node 20+, Cloudflare Workers, Deno, Bun, browsers) and no dependencies.
//
// Why not the `standardwebhooks`/`svix` JS verifiers: they take the body as a string (a Buffer is
// decoded as UTF-8 first), so any body that is not valid UTF-8 (an image, protobuf, gzip...) is
// changed before it is hashed and never verifies. Torque signs the bytes it sends, as the spec says.

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** Largest clock difference accepted, in seconds (default 300): older deliveries are replays. */
  toleranceSeconds?: number;
  /** The current time in unix seconds (for tests). */
  now?: number;
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const v = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(' ') : v;
}

const fromBase64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/**
 * True when `body` is exactly what Torque signed for this delivery and the timestamp is recent.
 * `secret` is the deployment's SIGNING_SECRET (`whsec_...`). Never throws on hostile input.
 */
export async function verifyTorqueSignature(secret: string, headers: HeaderSource, body: Uint8Array | ArrayBuffer, opts: VerifyOptions = {}): Promise<boolean> {
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !ts || !signatures || !/^\d{1,12}$/.test(ts)) return false;
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(ts)) > (opts.toleranceSeconds ?? 300)) return false;
  try {
    const key = await crypto.subtle.importKey('raw', fromBase64(secret.replace(/^whsec_/, '')), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    const prefix = new TextEncoder().encode(`${id}.${ts}.`);
    const bytes = body instanceof Uint8Array ? body : new Uint8Array(body);
    const signed = new Uint8Array(prefix.length + bytes.length);
    signed.set(prefix);
    signed.set(bytes, prefix.length);
    for (const candidate of signatures.split(' ')) {
      const [version, mac] = candidate.split(',', 2);
      // crypto.subtle.verify compares in constant time.
      if (version === 'v1' && mac && (await crypto.subtle.verify('HMAC', key, fromBase64(mac), signed))) return true;
    }
  } catch {
    // A malformed secret or signature verifies nothing.
  }
  return false;
}
