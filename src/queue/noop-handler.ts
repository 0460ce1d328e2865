import type { JobHandler } from './queue-runner.js';

export const NOOP_JOB = 'noop';

/**
 * A job that does nothing: measures the queue itself (claim, lease, record) and
 * checks that a cluster works its queue, without touching files or partners.
 */
export const noopHandler: JobHandler = {
  kind: NOOP_JOB,
  async run() {},
};
