// Secrets and optional tuning vars are not in wrangler.toml's [vars], so `wrangler types` cannot
// see them; they extend the generated base interface here (never in the generated file).
interface __BaseEnv_Env {
  ADMIN_TOKEN?: string;
  SIGNING_SECRET?: string;
  /** Guards GET /metrics (ADMIN_TOKEN does when this is unset). */
  METRICS_TOKEN?: string;
  /** Seconds a consumer invocation may spend starting attempts (default 840, max 900). */
  CONSUMER_BUDGET?: string;
  /** Seconds after creation at which the sweeper's walk takes a new task (default 120). */
  SWEEP_WALK_LAG?: string;
  /** Comma-separated host patterns hooks may target (empty: any). */
  ALLOWED_HOSTS?: string;
  /** Comma-separated host patterns hooks may never target. */
  BLOCKED_HOSTS?: string;
  /** true: Torque's API accepts requests carrying Torque's own delivery headers (chaining deployments). */
  ALLOW_CHAINING?: string;
}
