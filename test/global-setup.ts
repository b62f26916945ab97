import type { TestProject } from 'vitest/node';
import { startHookServer } from './hook-server';

declare module 'vitest' {
  export interface ProvidedContext {
    hookUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const hooks = await startHookServer();
  project.provide('hookUrl', hooks.url);
  return async () => {
    hooks.server.closeAllConnections();
    await new Promise((r) => hooks.server.close(r));
  };
}
