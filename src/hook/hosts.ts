import type { Config } from '../config';

export type HostPolicy = Pick<Config, 'ALLOWED_HOSTS' | 'BLOCKED_HOSTS'>;

function matches(host: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return host === pattern;
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
  const host = u.hostname.toLowerCase();
  if (policy.BLOCKED_HOSTS.some((p) => matches(host, p))) return `host ${host} is blocked (BLOCKED_HOSTS)`;
  if (policy.ALLOWED_HOSTS.length && !policy.ALLOWED_HOSTS.some((p) => matches(host, p))) {
    return `host ${host} is not in ALLOWED_HOSTS`;
  }
  return null;
}
