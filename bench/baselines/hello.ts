// Baseline: the runtime's ceiling for a request that does nothing.
export default { fetch: () => new Response('ok') } satisfies ExportedHandler;
