import app from './http/app';
import { handleQueue, type TaskMessage } from './dispatch/consumer';
import { sweep } from './sweep/sweep';
import { logRefusals } from './http/refusals';
import { logEvent } from './log';

export { FlowGate } from './flow/gate';

export default {
  fetch: logRefusals(app.fetch),
  queue: handleQueue,
  async scheduled(controller, env) {
    // The scheduled minute, not the wall clock: consecutive runs then tile time exactly.
    const report = await sweep(env, controller.scheduledTime);
    const busy = report.recovered || report.resent || report.deleted || report.scheduled || report.failed.length || report.behind.length;
    if (busy) logEvent('sweep.report', { ...report }, report.failed.length ? 'error' : report.behind.length ? 'warn' : 'info');
  },
} satisfies ExportedHandler<Env, TaskMessage>;
