// Host policy: every spelling of a host is compared in one normal form, at enqueue and on every hop.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostRefusal, isPrivateHost, normalizeHost } from '../src/hook/hosts';
import { callWith, consume, getTask, hook, received } from './helpers';

const policy = (over: Partial<Parameters<typeof hostRefusal>[1]> = {}) => ({ ALLOWED_HOSTS: [], BLOCKED_HOSTS: [], BLOCK_PRIVATE_ADDRESSES: false, ...over });
const enqueueWith = (vars: Record<string, string>, url: string) => callWith(vars, `/?url=${encodeURIComponent(url)}`, { method: 'POST', body: 'x' });

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
// A name whose last label reads as a number (12, 0x1f, 0x) is an IPv4 attempt to the URL parser,
// and an `xn--` label must be valid punycode: neither is a plain domain name.
const domain = fc
  .array(label, { minLength: 2, maxLength: 4 })
  .map((l) => l.join('.'))
  .filter((d) => !/(^|\.)(\d+|0x[0-9a-f]*)$/i.test(d) && !/(^|\.)xn--/.test(d));
const octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const asInt = ([a, b, c, d]: number[]) => ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;

/** Every way the URL standard lets one write an IPv4 address. */
function spellings4(o: number[]): string[] {
  const [a, b, c, d] = o;
  return [
    o.join('.'), `${o.join('.')}.`, String(asInt(o)), `0x${asInt(o).toString(16)}`, `${a}.${(b << 16) + (c << 8) + d}`,
    `${a}.${b}.${(c << 8) + d}`, o.map((x) => `0x${x.toString(16)}`).join('.'), o.map((x) => `0${x.toString(8)}`).join('.'),
    `[::ffff:${o.join('.')}]`,
  ];
}

/** Case, trailing dot, and IDNA spellings of a name. */
const spellingsName = (d: string) => [d, d.toUpperCase(), `${d}.`, `${d.toUpperCase()}.`, d.replace(/^./, (ch) => ch.toUpperCase())];

describe('normalizeHost', () => {
  it('property: every spelling of a name normalises to one form, and BLOCKED_HOSTS refuses all of them', () => {
    fc.assert(
      fc.property(domain, (d) => {
        const forms = new Set(spellingsName(d).map(normalizeHost));
        expect([...forms]).toEqual([d]);
        for (const s of spellingsName(d)) {
          expect(hostRefusal(`http://${s}/x`, policy({ BLOCKED_HOSTS: [d] }))).toMatch(/is blocked/);
          expect(hostRefusal(`http://a.${s}/x`, policy({ BLOCKED_HOSTS: [`*.${d}`] }))).toMatch(/is blocked/);
          expect(hostRefusal(`http://${s}/x`, policy({ ALLOWED_HOSTS: [d] }))).toBeNull();
        }
      }),
      { numRuns: 200 },
    );
  });

  it('property: every spelling of an IPv4 address normalises to the same host', () => {
    fc.assert(
      fc.property(octets, (o) => {
        const canonical = normalizeHost(o.join('.'));
        for (const s of spellings4(o)) expect(normalizeHost(s), s).toBe(canonical);
        for (const s of spellings4(o)) expect(hostRefusal(`http://${s}/`, policy({ BLOCKED_HOSTS: [canonical!] })), s).toMatch(/is blocked/);
      }),
      { numRuns: 200 },
    );
  });

  it('property: private IPv4 ranges are private in every spelling; addresses outside them are not', () => {
    const inRange = fc.oneof(
      octets.map(([, b, c, d]) => [10, b, c, d]),
      octets.map(([, b, c, d]) => [127, b, c, d]),
      octets.map(([, b, c, d]) => [172, 16 + (b % 16), c, d]),
      octets.map(([, , c, d]) => [192, 168, c, d]),
      octets.map(([, , c, d]) => [169, 254, c, d]),
      octets.map(([, b, c, d]) => [100, 64 + (b % 64), c, d]),
    );
    fc.assert(
      fc.property(inRange, (o) => {
        for (const s of spellings4(o)) expect(isPrivateHost(normalizeHost(s)!), s).toBe(true);
      }),
    );
    const publicFirst = fc.integer({ min: 1, max: 223 }).filter((a) => ![10, 100, 127, 169, 172, 192, 198].includes(a));
    fc.assert(
      fc.property(publicFirst, octets, (a, [, b, c, d]) => {
        for (const s of spellings4([a, b, c, d])) expect(isPrivateHost(normalizeHost(s)!), s).toBe(false);
      }),
    );
  });

  it('normalises IDNA and IPv6 forms', () => {
    expect(normalizeHost('BÜCHER.de.')).toBe('xn--bcher-kva.de');
    expect(normalizeHost('[0:0:0:0:0:0:0:1]')).toBe('[::1]');
    expect(normalizeHost('0:0::1')).toBe('[::1]');
    expect(normalizeHost('[FD00:0::01]')).toBe('[fd00::1]');
    expect(normalizeHost('a b')).toBeNull();
    expect(normalizeHost('a.test:80')).toBeNull();
  });

  it.each([
    ['[::1]', true], ['[::]', true], ['[fd12:3456::1]', true], ['[fe80::1]', true], ['[::ffff:169.254.169.254]', true],
    ['[64:ff9b::a00:1]', true], ['localhost', true], ['api.localhost', true], ['0.0.0.0', true],
    ['[2606:4700::1111]', false], ['8.8.8.8', false], ['example.com', false], ['localhost.example.com', false],
  ])('isPrivateHost(%s) = %s', (host, expected) => {
    expect(isPrivateHost(normalizeHost(host)!)).toBe(expected);
  });
});

describe('host policy at enqueue and on redirects', () => {
  it.each([
    ['blocked.invalid', 'http://blocked.invalid./x'],
    ['blocked.invalid', 'http://BLOCKED.Invalid/x'],
    ['localhost', 'http://localhost./x'],
    ['*.evil.invalid', 'http://a.evil.invalid./x'],
    ['127.0.0.1', 'http://127.1/x'],
    ['127.0.0.1', 'http://2130706433/x'],
    ['::1', 'http://[0:0::1]/x'],
    ['Blocked.Invalid.', 'http://blocked.invalid/x'],
  ])('BLOCKED_HOSTS=%s refuses %s', async (blocked, url) => {
    const res = await enqueueWith({ BLOCKED_HOSTS: blocked }, url);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^url: host .* is blocked/);
  });

  it.each(['http://127.0.0.1:9/x', 'http://10.1.2.3/', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://[fd00::1]/',
    'http://[::ffff:10.0.0.1]/', 'http://localhost/', 'http://a.localhost./', 'http://0x7f.1/', 'http://192.168.0.1./'])(
    'BLOCK_PRIVATE_ADDRESSES refuses %s at enqueue', async (url) => {
      const res = await enqueueWith({ BLOCK_PRIVATE_ADDRESSES: 'true' }, url);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/private address/);
    },
  );

  it('BLOCK_PRIVATE_ADDRESSES accepts public hosts', async () => {
    for (const url of ['https://example.com/x', 'http://8.8.8.8/', 'http://[2606:4700::1111]/']) {
      expect((await enqueueWith({ BLOCK_PRIVATE_ADDRESSES: 'true' }, url)).status, url).toBe(201);
    }
  });

  it('a redirect to a trailing-dot spelling of a blocked host fails the task uncalled', async () => {
    const target = hook('ok');
    const bouncer = hook('redirect', `code=302&to=${encodeURIComponent(target.url.replace('127.0.0.1', 'localhost.'))}`);
    const { id } = (await (await enqueueWith({}, bouncer.url)).json()) as { id: string };
    await consume([id], { BLOCKED_HOSTS: 'localhost' });
    const t = await getTask(id);
    expect(t.status).toBe('failed');
    expect(t.last_error).toMatch(/^blocked: host localhost is blocked/);
    expect(await received(target.key)).toEqual([]);
  });

  it('a redirect to a hex spelling of a blocked address fails the task uncalled', async () => {
    const bouncer = hook('redirect', `code=307&to=${encodeURIComponent('http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/')}`);
    const { id } = (await (await enqueueWith({}, bouncer.url)).json()) as { id: string };
    await consume([id], { BLOCKED_HOSTS: '169.254.169.254' });
    expect((await getTask(id)).last_error).toMatch(/^blocked: host 169\.254\.169\.254 is blocked/);
  });
});
