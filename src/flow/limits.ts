import type { Scope } from '../scope';
import { deleteFlow, getFlow, putFlow, setPaused, type FlowLimitsInput, type FlowRow } from '../store/flows';

// A flow's limits and pause, as the API, /v2 and the dashboard change them. They live in the home
// database; each key's Durable Object (gate.ts) reads them as the consumer asks it for a slot.

type App = Pick<Scope, 'appId' | 'shards'>;

/** Sets a flow's limits and retry policy (creating it); its pause stays as it was. */
export const setFlow = (s: App, key: string, limits: FlowLimitsInput): Promise<FlowRow> =>
  putFlow(s.shards.home.db, s.appId, key, limits, Date.now());

/** Removes a flow's limits and pause; false if the app has no such flow. */
export const removeFlow = (s: App, key: string): Promise<boolean> => deleteFlow(s.shards.home.db, s.appId, key);

/** Holds (or lets go again) every task of a flow; a flow not set yet is made, unlimited, to hold the pause. */
export const pauseFlow = (s: App, key: string, paused: boolean): Promise<FlowRow> =>
  setPaused(s.shards.home.db, s.appId, key, paused, Date.now());

/**
 * Sets each key's limits unless they already are what is asked: a steady stream of messages
 * naming the same limits (QStash's Upstash-Flow-Control-Value) costs one read per key, no write.
 */
export async function setFlowsIfChanged(s: App, limits: Map<string, Omit<FlowLimitsInput, 'retryPolicy'>>, now: number): Promise<void> {
  const db = s.shards.home.db;
  await Promise.all([...limits].map(async ([key, flow]) => {
    const had = await getFlow(db, s.appId, key);
    if (had && had.rate === flow.rate && had.parallelism === flow.parallelism && had.period === flow.period) return;
    await putFlow(db, s.appId, key, flow, now);
  }));
}
