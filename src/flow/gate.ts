import { DurableObject } from 'cloudflare:workers';
import { SOON_MS } from '../start-window';

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
  /** Tasks that start at `at` (now, or their slot within SOON_MS), each with the lease that holds its parallelism slot. */
  granted: { id: string; lease: string; at: number }[];
  /** Tasks that must wait, and until when: a rate slot kept for them (promised), or when to look again. */
  later: { id: string; at: number; promised: boolean }[];
}

// A paused key's tasks look again this often (a resume takes effect within it).
export const PAUSED_RECHECK_MS = 5_000;
// A key at its parallelism does not know when a slot frees; its tasks look again this soon.
export const BUSY_RECHECK_MS = 1_000;
// Back later than this after its slot, a task lost it (starting it now could crowd the next
// period): it queues again, at the end.
const LATE_MS = 100;
// A task promised a slot that never comes back gives it up after this.
const ABANDONED_MS = 60_000;

export class FlowGate extends DurableObject {
  // Starts made or promised, in time order: at most `rate` in any `period` (a sliding window).
  // A task that cannot start now is promised the first free place, and is sent back to the
  // queue for that moment: it then starts without asking twice, so the flow runs at its rate
  // instead of tasks bouncing until they happen to find a gap.
  private slots: number[] = [];
  private promised = new Map<string, number>(); // task id -> its slot
  private leases = new Map<string, number>(); // lease -> when it lapses (its attempt's timeout)
  private nextLease = 0;

  /** Which of these tasks start now (with a lease for `leaseMs` at most), and when the others may. */
  admit(limits: Limits, ids: string[], leaseMs: number): Admission {
    const now = Date.now();
    const out: Admission = { granted: [], later: [] };
    if (limits.paused) {
      for (const id of ids) out.later.push({ id, at: now + PAUSED_RECHECK_MS, promised: false });
      return out;
    }
    this.forget(now, limits.periodMs);
    for (const id of ids) {
      if (limits.parallelism != null && this.leases.size >= limits.parallelism) {
        out.later.push({ id, at: now + BUSY_RECHECK_MS, promised: false });
        continue;
      }
      let at = now;
      if (limits.rate != null) {
        let slot = this.promised.get(id);
        if (slot !== undefined && slot < now - LATE_MS) {
          // Back late (the queue delayed it): its old place is gone; it takes the next one.
          this.drop(slot);
          slot = undefined;
        }
        if (slot === undefined) {
          slot = this.firstFree(now, limits);
          this.slots.push(slot);
        }
        this.promised.delete(id);
        if (slot > now + SOON_MS) {
          this.promised.set(id, slot);
          out.later.push({ id, at: slot, promised: true });
          continue;
        }
        at = Math.max(now, slot);
      }
      const lease = `${now}-${this.nextLease++}`;
      this.leases.set(lease, at + leaseMs);
      out.granted.push({ id, lease, at });
    }
    return out;
  }

  /**
   * The first moment from `now` at which one more start keeps at most `rate` in every period.
   * Slots are only ever added after the last one, so only the newest window needs checking: the
   * rate-th newest slot must have left it.
   */
  private firstFree(now: number, limits: Limits): number {
    const n = this.slots.length;
    const rate = limits.rate!;
    let t = Math.max(now, n ? this.slots[n - 1] : now);
    if (n >= rate) t = Math.max(t, this.slots[n - rate] + limits.periodMs);
    return t;
  }

  private drop(slot: number) {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private forget(now: number, periodMs: number) {
    for (const [lease, lapses] of this.leases) if (lapses <= now) this.leases.delete(lease);
    for (const [id, slot] of this.promised) {
      if (slot < now - ABANDONED_MS) {
        this.promised.delete(id);
        this.drop(slot);
      }
    }
    // Past starts matter only while in the window.
    while (this.slots.length && this.slots[0] <= now - periodMs) this.slots.shift();
  }

  /** Frees the slots of attempts that ended. */
  release(leases: string[]): void {
    for (const lease of leases) this.leases.delete(lease);
  }

  /** What the key is doing now (GET /flows/{key}). */
  state(limits: Limits): { running: number; started_in_period: number; waiting_for_a_slot: number } {
    const now = Date.now();
    this.forget(now, limits.periodMs);
    return { running: this.leases.size, started_in_period: this.slots.filter((t) => t > now - limits.periodMs && t <= now).length, waiting_for_a_slot: this.promised.size };
  }
}
