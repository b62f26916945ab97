import { DurableObject } from 'cloudflare:workers';
import { PACED_LATE_MS, SOON_MS } from '../start-window';

// Flow control needs one place that sees every start of a key, whichever consumer invocation, in
// whichever Cloudflare location, makes it: a Durable Object per key is that place (one instance
// in the world, requests to it one at a time), and it costs nothing for tasks without a key.
// D1 could count too, but every start would then be a write, and its row a hot spot.
//
// The object keeps only what happens now: when recent starts happened (for the rate), which
// attempts hold a slot (for parallelism) and which waiting tasks were promised a slot. The limits
// come with every request (the flows table is their truth), so there is nothing to configure or
// to keep in sync. The state lives in the object's SQLite storage: an object is evicted after a
// short idleness (a hook running for minutes leaves it idle) and reset by every deploy, and a
// promise kept only in memory would be forgotten then. Memory holds a copy, read back when the
// object starts. A write is confirmed before the answer leaves the object (output gate), so no
// caller acts on a start the storage does not know. Leases lapse by time (the attempt's timeout
// plus grace), checked on every request, so a lost release frees its slot then.
//
// Cost: each start writes about 2 storage rows per limit (the start or lease, then its removal);
// a promised slot 2 more. Rows are WITHOUT ROWID tables keyed by what they are, so a write is one row.

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
// A task promised a slot that never comes back gives it up after this.
const ABANDONED_MS = 60_000;

const SCHEMA = [
  'CREATE TABLE IF NOT EXISTS slots (at INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (at, n)) WITHOUT ROWID',
  'CREATE TABLE IF NOT EXISTS promised (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID',
  'CREATE TABLE IF NOT EXISTS leases (lease TEXT PRIMARY KEY, lapses INTEGER NOT NULL) WITHOUT ROWID',
];

export class FlowGate extends DurableObject {
  // Starts made or promised, in time order: at most `rate` in any `period` (a sliding window).
  // A task that cannot start now is promised the first free place, and is sent back to the
  // queue for that moment: it then starts without asking twice, so the flow runs at its rate
  // instead of tasks bouncing until they happen to find a gap.
  private slots: number[] = [];
  private promised = new Map<string, number>(); // task id -> its slot
  private leases = new Map<string, number>(); // lease -> when it lapses (its attempt's timeout)
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
    this.slots = this.sql.exec<{ at: number }>('SELECT at FROM slots ORDER BY at, n').toArray().map((r) => r.at);
    for (const r of this.sql.exec<{ id: string; at: number }>('SELECT id, at FROM promised')) this.promised.set(r.id, r.at);
    for (const r of this.sql.exec<{ lease: string; lapses: number }>('SELECT lease, lapses FROM leases')) this.leases.set(r.lease, r.lapses);
  }

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
        if (slot !== undefined && slot < now - PACED_LATE_MS) {
          // Back late (the queue delayed it): its old place is gone; it takes the next one.
          this.drop(slot);
          slot = undefined;
        }
        if (slot === undefined) {
          slot = this.firstFree(now, limits);
          this.addSlot(slot);
        }
        if (this.promised.delete(id)) this.sql.exec('DELETE FROM promised WHERE id = ?', id);
        if (slot > now + SOON_MS) {
          this.promised.set(id, slot);
          this.sql.exec('INSERT OR REPLACE INTO promised (id, at) VALUES (?, ?)', id, slot);
          out.later.push({ id, at: slot, promised: true });
          continue;
        }
        at = Math.max(now, slot);
      }
      // Unique across restarts of the object (a counter in memory would start again at 0).
      const lease = `${now}-${crypto.randomUUID().slice(0, 8)}`;
      if (limits.parallelism != null) {
        this.leases.set(lease, at + leaseMs);
        this.sql.exec('INSERT INTO leases (lease, lapses) VALUES (?, ?)', lease, at + leaseMs);
      }
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

  // Several starts may share a millisecond: n numbers them in storage.
  private addSlot(at: number) {
    this.slots.push(at);
    this.sql.exec('INSERT INTO slots (at, n) VALUES (?1, (SELECT count(*) FROM slots WHERE at = ?1))', at);
  }

  private drop(slot: number) {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    this.sql.exec('DELETE FROM slots WHERE at = ?1 AND n = (SELECT max(n) FROM slots WHERE at = ?1)', slot);
  }

  private forget(now: number, periodMs: number) {
    let lapsed = false;
    for (const [lease, lapses] of this.leases) if (lapses <= now) lapsed = this.leases.delete(lease);
    if (lapsed) this.sql.exec('DELETE FROM leases WHERE lapses <= ?', now);
    for (const [id, slot] of this.promised) {
      if (slot < now - ABANDONED_MS) {
        this.promised.delete(id);
        this.sql.exec('DELETE FROM promised WHERE id = ?', id);
        this.drop(slot);
      }
    }
    // Past starts matter only while in the window.
    const old = now - periodMs;
    if (this.slots.length && this.slots[0] <= old) {
      while (this.slots.length && this.slots[0] <= old) this.slots.shift();
      this.sql.exec('DELETE FROM slots WHERE at <= ?', old);
    }
  }

  /** Frees the slots of attempts that ended. */
  release(leases: string[]): void {
    for (const lease of leases) if (this.leases.delete(lease)) this.sql.exec('DELETE FROM leases WHERE lease = ?', lease);
  }

  /** What the key is doing now (GET /flows/{key}). */
  state(limits: Limits): { running: number; started_in_period: number; waiting_for_a_slot: number } {
    const now = Date.now();
    this.forget(now, limits.periodMs);
    return { running: this.leases.size, started_in_period: this.slots.filter((t) => t > now - limits.periodMs && t <= now).length, waiting_for_a_slot: this.promised.size };
  }
}
