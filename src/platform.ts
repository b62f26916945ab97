// Cloudflare limits the design is built around, in one place (see ../shared/spec/architecture.md).

/** Queues delays a message by at most 24 h: tasks due later are sent by the sweeper. */
export const MAX_QUEUE_DELAY_S = 86_400;
export const MAX_QUEUE_DELAY_MS = MAX_QUEUE_DELAY_S * 1000;
/** D1 binds at most 100 parameters per statement (and holds at most 2,000,000 bytes per value). */
export const D1_MAX_PARAMS = 100;

/** D1 holds at most 2,000,000 bytes per row, every column counted. */
export const D1_MAX_ROW_BYTES = 2_000_000;
/** A Worker invocation may run 15 minutes of wall time (a queue consumer's limit). */
export const CONSUMER_WALL_S = 900;

// Memory. An isolate has 128 MB, shared by every request it serves at once. The D1 binding sends
// bound bytes (a body) as a JSON array of numbers, about 3.6 bytes of memory per byte bound, on top
// of the request's own bytes, their parsed form and the decoded bodies. A request is allowed
// REQUEST_MEMORY_BYTES; each byte of a request body is counted MEMORY_PER_REQUEST_BYTE times:
// 1 (the raw body) + 1 (its parsed JSON strings) + 1 (decoded bodies) + 3.6 (bound to D1).
export const D1_BOUND_BYTES_EXPANSION = 3.6;
export const MEMORY_PER_REQUEST_BYTE = 3 + D1_BOUND_BYTES_EXPANSION;
export const REQUEST_MEMORY_BYTES = 28 * 1024 * 1024;
