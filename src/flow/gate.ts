import { DurableObject } from 'cloudflare:workers';

// Flow control needs one place that sees every start of a key, whichever consumer invocation, in
// whichever Cloudflare location, makes it: a Durable Object per key is that place (one instance
// in the world, requests to it one at a time), and it costs nothing for tasks without a key.
// D1 could count too, but every start would then be a write, and its row a hot spot.
//
// The object keeps only what happens now: when recent starts happened (for the rate) and which
// attempts hold a slot (for parallelism), in memory. The limits come with every request (the
// flows table is their truth), so there is nothing to configure or to keep in sync. If the
// object is evicted (it is only evicted when idle) it forgets starts older than its idleness.

export interface Limits {
  rate: number | null; // starts per period
  periodMs: number;
  parallelism: number | null; // attempts at once
  paused: boolean;
}

export interface Admission {
  /** One lease per start granted (the first `leases.length` of those asked for). */
  leases: string[];
  /** When asking again can succeed, for those not granted. */
  retryAfterMs: number;
}

// A paused key's tasks look again this often (a resume takes effect within it).
export const PAUSED_RECHECK_MS = 5_000;
// A key at its parallelism does not know when a slot frees; its tasks look again this soon.
export const BUSY_RECHECK_MS = 1_000;

export class FlowGate extends DurableObject {
  private starts: number[] = []; // start times in the current period, oldest first
  private leases = new Map<string, number>(); // lease -> when it lapses (its attempt's timeout)
  private nextLease = 0;

  /** Grants up to `n` starts now, each holding a slot for at most `leaseMs` unless released. */
  admit(limits: Limits, n: number, leaseMs: number, now = Date.now()): Admission {
    if (limits.paused) return { leases: [], retryAfterMs: PAUSED_RECHECK_MS };
    for (const [lease, lapses] of this.leases) if (lapses <= now) this.leases.delete(lease);
    while (this.starts.length && this.starts[0] <= now - limits.periodMs) this.starts.shift();
    let free = n;
    if (limits.parallelism != null) free = Math.min(free, limits.parallelism - this.leases.size);
    if (limits.rate != null) free = Math.min(free, limits.rate - this.starts.length);
    const leases: string[] = [];
    for (let i = 0; i < Math.max(0, free); i++) {
      const lease = `${now}-${this.nextLease++}`;
      this.leases.set(lease, now + leaseMs);
      if (limits.rate != null) this.starts.push(now);
      leases.push(lease);
    }
    // The rate frees a start when the oldest leaves the period; parallelism when an attempt ends.
    const rateWait = limits.rate != null && this.starts.length >= limits.rate ? this.starts[0] + limits.periodMs - now : 0;
    const busy = limits.parallelism != null && this.leases.size >= limits.parallelism;
    return { leases, retryAfterMs: Math.max(rateWait, busy ? BUSY_RECHECK_MS : 0) };
  }

  /** Frees the slots of attempts that ended. */
  release(leases: string[]): void {
    for (const lease of leases) this.leases.delete(lease);
  }

  /** What the key is doing now (GET /flows/{key}). */
  state(limits: Limits, now = Date.now()): { running: number; started_in_period: number } {
    for (const [lease, lapses] of this.leases) if (lapses <= now) this.leases.delete(lease);
    return { running: this.leases.size, started_in_period: this.starts.filter((t) => t > now - limits.periodMs).length };
  }
}
