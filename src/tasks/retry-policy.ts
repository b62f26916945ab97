import type { Config } from '../config';

// A retry policy per task or per flow (as Cloud Tasks sets per queue): how the wait between
// attempts grows and its bounds, always within the deployment's MIN_RETRY_DELAY..MAX_RETRY_DELAY.
// Without one, network failures back off linearly and HTTP errors exponentially (dispatch/backoff.ts).

const BACKOFFS = ['exponential', 'linear', 'fixed'] as const;
export type Backoff = (typeof BACKOFFS)[number];
/** Seconds. Stored on the task (or flow) row as JSON. */
export type RetryPolicy = { backoff: Backoff; min: number; max: number };
export type RetryPolicyInput = { backoff?: Backoff; min?: number; max?: number };

/** The policy asked for, its bounds defaulting to the deployment's (null: none asked for). */
export function retryPolicy(input: RetryPolicyInput | undefined, cfg: Pick<Config, 'MIN_RETRY_DELAY' | 'MAX_RETRY_DELAY'>): RetryPolicy | null {
  if (!input || (input.backoff === undefined && input.min === undefined && input.max === undefined)) return null;
  return { backoff: input.backoff ?? 'exponential', min: input.min ?? cfg.MIN_RETRY_DELAY, max: input.max ?? cfg.MAX_RETRY_DELAY };
}

/** What is wrong with a policy, as [field, message], or null. */
export function retryPolicyProblem(p: RetryPolicy, cfg: Pick<Config, 'MIN_RETRY_DELAY' | 'MAX_RETRY_DELAY'>): [string, string] | null {
  if (p.min < cfg.MIN_RETRY_DELAY) return ['retry_min_delay', `must be at least MIN_RETRY_DELAY (${cfg.MIN_RETRY_DELAY})`];
  if (p.max > cfg.MAX_RETRY_DELAY) return ['retry_max_delay', `must be at most MAX_RETRY_DELAY (${cfg.MAX_RETRY_DELAY})`];
  if (p.min > p.max) return ['retry_min_delay', `must not be more than retry_max_delay (${p.max})`];
  return null;
}

export const policyText = (p: RetryPolicy | null) => (p ? JSON.stringify(p) : null);
export function parsePolicy(text: string | null | undefined): RetryPolicy | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as RetryPolicy;
  } catch {
    return null; // never written by Torque: the deployment's default applies
  }
}

/** The API's view of a stored policy. */
export const policyJson = (text: string | null | undefined) => {
  const p = parsePolicy(text);
  return p && { backoff: p.backoff, min_delay: p.min, max_delay: p.max };
};
