// Cloudflare limits the design is built around, in one place (see ../shared/spec/architecture.md).

/** Queues delays a message by at most 24 h: tasks due later are sent by the sweeper. */
export const MAX_QUEUE_DELAY_S = 86_400;
export const MAX_QUEUE_DELAY_MS = MAX_QUEUE_DELAY_S * 1000;
/** D1 binds at most 100 parameters per statement (and holds at most 2,000,000 bytes per value). */
export const D1_MAX_PARAMS = 100;
