import cluster from 'node:cluster';
import type { Config } from './config/schema.js';

/**
 * The composition root: runs this process as a node's supervisor, or as one of
 * its workers when forked by it. Each role loads only its own modules, so a
 * worker carries no HTTP server and a supervisor no SSH stack.
 */
export async function runNode(config: Config): Promise<void> {
  if (cluster.isPrimary) {
    await (await import('./node-supervisor.js')).runSupervisor(config);
    return;
  }
  try {
    await (await import('./node-worker.js')).runWorker(config);
  } catch (err) {
    // The channel to the supervisor would keep a failed worker alive, idle: exit, so it is replaced.
    process.stderr.write(`ferry worker ${process.pid} could not start: ${(err as Error).message ?? err}\n`);
    process.exit(1);
  }
}
