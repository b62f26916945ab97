import app from './http/app';
import { handleQueue, type TaskMessage } from './dispatch/consumer';
import { sweep } from './sweep/sweep';

export { FlowGate } from './flow/gate';

export default {
  fetch: app.fetch,
  queue: handleQueue,
  async scheduled(controller, env) {
    // The scheduled minute, not the wall clock: consecutive runs then tile time exactly.
    const report = await sweep(env, controller.scheduledTime);
    if (report.recovered || report.resent || report.deleted || report.scheduled || report.failed.length) console.log('sweep', JSON.stringify(report));
  },
} satisfies ExportedHandler<Env, TaskMessage>;
