// The receiver helper (client/verify.ts) verifies real deliveries of random binary bodies, where
// the standardwebhooks JS verifier (which decodes bodies as UTF-8) cannot.
import { env } from 'cloudflare:workers';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyTorqueSignature } from '../client/verify';
import { call, consume, hook, received } from './helpers';

const SECRET = env.SIGNING_SECRET as string;

describe('verifying signatures over raw bytes', () => {
  it('accepts every real delivery of random binary bodies and rejects any changed byte', async () => {
    const bodies = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 3000 }), 30);
    const h = hook('ok');
    const items = bodies.map((b) => ({ url: h.url, headers: { 'content-type': 'application/octet-stream' }, body_base64: Buffer.from(b).toString('base64') }));
    const res = await call('/batch', { method: 'POST', body: JSON.stringify(items), headers: { 'content-type': 'application/json' } });
    const { tasks } = (await res.json()) as { tasks: { id: string }[] };
    await consume(tasks.map((t) => t.id));
    const got = await received(h.key);
    expect(got).toHaveLength(bodies.length);
    let utf8Failures = 0;
    for (const delivery of got) {
      const bytes = new Uint8Array(Buffer.from(delivery.body, 'base64'));
      expect(await verifyTorqueSignature(SECRET, delivery.headers, bytes)).toBe(true);
      const tampered = bytes.slice();
      tampered[tampered.length >> 1] ^= 1;
      expect(await verifyTorqueSignature(SECRET, delivery.headers, tampered)).toBe(false);
      expect(await verifyTorqueSignature(SECRET, delivery.headers, bytes, { now: Number(delivery.headers['webhook-timestamp']) + 301 })).toBe(false);
      try {
        new Webhook(SECRET).verify(Buffer.from(bytes) as unknown as string, delivery.headers);
      } catch {
        utf8Failures++;
      }
    }
    // Random bytes are almost never valid UTF-8: the string-based verifier rejects genuine deliveries.
    expect(utf8Failures).toBeGreaterThan(bodies.length / 2);
  });

  it('never throws on hostile headers', async () => {
    for (const headers of [{}, { 'webhook-id': 'a', 'webhook-timestamp': 'x', 'webhook-signature': 'v1,!!' }, { 'webhook-id': 'a', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,!!! v2,x' }]) {
      expect(await verifyTorqueSignature(SECRET, headers, new Uint8Array([1]))).toBe(false);
    }
    expect(await verifyTorqueSignature('whsec_!', { 'webhook-id': 'a', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' }, new Uint8Array())).toBe(false);
  });
});
