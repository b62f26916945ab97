import { normalizeHost } from '../hook/hosts';
import { resetCircuits } from '../store/circuits';
import type { Scope } from '../scope';
import { releaseHeld } from './breaker';

// Closing circuits by hand (POST /destinations/{destination}/reset, the dashboard's Reset): the
// circuits a name covers, closed, and the tasks they held sent at once.

const origin = (scheme: 'http' | 'https', host: string, port?: string) =>
  `${scheme}://${host}${port && port !== (scheme === 'http' ? '80' : '443') ? `:${port}` : ''}`;

/** The circuits a reset names: exact destinations, and prefixes (every port of a bare host). */
function destinationNames(raw: string): { names: string[]; prefixes: string[] } | null {
  if (raw.startsWith('flow:')) return { names: [raw], prefixes: [] };
  if (raw.includes('://')) {
    try {
      const u = new URL(raw);
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || u.search || u.hash || u.username || u.password) return null;
      const host = normalizeHost(u.hostname);
      return host ? { names: [origin(u.protocol === 'http:' ? 'http' : 'https', host, u.port)], prefixes: [] } : null;
    } catch {
      return null;
    }
  }
  const bare = raw.startsWith('host:') && !/^host:\d+$/.test(raw) ? raw.slice(5) : raw; // the old "host:<name>" form
  // host:port ("[v6]:port" for IPv6); a bare IPv6 address has several colons and no brackets.
  const m = bare.match(/^(\[[^\]]*\]|[^:]*):(\d{1,5})$/);
  const host = normalizeHost(m ? m[1] : bare);
  if (!host) return null;
  if (m) return { names: [origin('http', host, m[2]), origin('https', host, m[2])], prefixes: [] };
  return { names: [origin('http', host), origin('https', host)], prefixes: [`http://${host}:`, `https://${host}:`] };
}

/** Closes the circuits `raw` names and lets their tasks go; false if it names none (or nothing valid). */
export async function resetDestination(s: Scope, raw: string): Promise<boolean> {
  const named = destinationNames(raw);
  const closed = named && (await resetCircuits(s.shards.home.db, s.appId, named.names, named.prefixes));
  if (!closed || closed.destinations.length === 0) return false;
  await releaseHeld(s, closed.held);
  return true;
}
