import cluster from 'node:cluster';
import type { Config } from './config/schema.js';

/**
 * The composition root: runs this process as a node's supervisor, or as one of
 * its workers when forked by it. Each role loads only its own modules, so a
 * worker carries no HTTP server and a supervisor no SSH stack.
 */
export async function runNode(config: Config): Promise<void> {
  if (cluster.isPrimary) await (await import('./node-supervisor.js')).runSupervisor(config);
  else await (await import('./node-worker.js')).runWorker(config);
}
