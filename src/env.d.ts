// Secrets are not in wrangler.toml, so `wrangler types` cannot see them; declare them here.
interface Env {
  ADMIN_TOKEN?: string;
  SIGNING_SECRET?: string;
  /** Optional: seconds a consumer invocation may spend starting attempts (default 840). */
  CONSUMER_BUDGET?: string;
}
