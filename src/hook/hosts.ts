/** The operator's host policy (config.ts parses it; patterns already normalised). */
export type HostPolicy = { ALLOWED_HOSTS: string[]; BLOCKED_HOSTS: string[]; BLOCK_PRIVATE_ADDRESSES: boolean };

/**
 * A host as every comparison must see it. The WHATWG URL parser (the one fetch uses) already
 * lowercases, applies IDNA (bücher.de -> xn--bcher-kva.de), canonicalises IPv4 shorthand
 * (127.1, 2130706433, 0x7f.0.0.1 -> 127.0.0.1) and IPv6 forms ([0:0::1] -> [::1]); what it keeps
 * is the trailing dot of a fully qualified name, which names the same host, so that goes too, and
 * IPv4-mapped IPv6 ([::ffff:127.0.0.1]) becomes the IPv4 address it is.
 * Returns null for something that is not a host.
 */
export function normalizeHost(host: string): string | null {
  const bare = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  try {
    const u = new URL(`http://${bare}/`);
    if (u.host !== u.hostname) return null; // a port or credentials sneaked in
    const host = u.hostname.replace(/\.+$/, '');
    // An IPv4-mapped IPv6 address is the IPv4 host itself: compare it as such.
    const mapped = host.match(/^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/);
    if (mapped) {
      const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
      return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
    }
    return host || null;
  } catch {
    return null;
  }
}

/** A BLOCKED_HOSTS/ALLOWED_HOSTS pattern, normalised like hosts: `*`, `*.suffix` or an exact host. */
export function normalizePattern(pattern: string): string | null {
  if (pattern === '*') return pattern;
  const wild = pattern.startsWith('*.');
  const host = normalizeHost(wild ? pattern.slice(2) : pattern);
  return host && (wild ? `*.${host}` : host);
}

function matches(host: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return host === pattern;
}

const v4 = (h: string) => {
  const m = h.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  return m ? m.slice(1).map(Number) : null;
};

// Loopback, "this network", RFC 1918, shared CGNAT space, link-local (cloud metadata lives at
// 169.254.169.254), and the IETF/benchmarking/multicast/reserved blocks nobody hosts hooks on.
function privateV4([a, b]: number[]): boolean {
  return a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) || (a === 198 && (b === 18 || b === 19)) || a >= 224;
}

/** The eight 16-bit groups of a normalised IPv6 literal (the parser writes no dotted tail). */
function groups(h: string): number[] | null {
  const [head, tail] = h.slice(1, -1).split('::');
  const parse = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const a = parse(head);
  const b = parse(tail);
  if (tail === undefined) return a.length === 8 ? a : null;
  return [...a, ...Array(8 - a.length - b.length).fill(0), ...b];
}

function privateV6(g: number[]): boolean {
  const [a, b, c, d, e, f, hi, lo] = g;
  const embedded = [hi >> 8, hi & 255, lo >> 8, lo & 255];
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, which covers :: and ::1).
  if (a === 0 && b === 0 && c === 0 && d === 0 && e === 0 && (f === 0xffff || f === 0)) return privateV4(embedded);
  if (a === 0x64 && b === 0xff9b) return privateV4(embedded); // NAT64
  return (a & 0xfe00) === 0xfc00 || (a & 0xffc0) === 0xfe80 || (a & 0xff00) === 0xff00; // ULA, link-local, multicast
}

/**
 * Whether a normalised host is a private, loopback or link-local address written literally, or a
 * `localhost` name. Names that merely resolve to such addresses cannot be seen from a Worker (it
 * has no DNS API); the README says so.
 */
export function isPrivateHost(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const four = v4(host);
  if (four) return privateV4(four);
  const six = host.startsWith('[') ? groups(host) : null;
  return six !== null && privateV6(six);
}

/**
 * Why a URL may not be called under the operator's host policy, or null when it may.
 * Checked at enqueue and again before every request of an attempt, redirects included, so a
 * hook cannot bounce Torque to a host the operator ruled out.
 */
export function hostRefusal(url: string, policy: HostPolicy): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `not a URL: ${url}`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${u.protocol} URLs are not allowed`;
  const host = normalizeHost(u.hostname);
  if (!host) return `no host in ${url}`;
  if (policy.BLOCK_PRIVATE_ADDRESSES && isPrivateHost(host)) return `host ${host} is a private address (BLOCK_PRIVATE_ADDRESSES)`;
  if (policy.BLOCKED_HOSTS.some((p) => matches(host, p))) return `host ${host} is blocked (BLOCKED_HOSTS)`;
  if (policy.ALLOWED_HOSTS.length && !policy.ALLOWED_HOSTS.some((p) => matches(host, p))) {
    return `host ${host} is not in ALLOWED_HOSTS`;
  }
  return null;
}
