import { isMainThread } from 'node:worker_threads';
import pino, { type Logger } from 'pino';

/**
 * At most one pipe buffer's atomic write (PIPE_BUF on Linux): a node's processes
 * share stdout, and a longer write to a pipe may interleave with another
 * process's, splitting a line. sonic-boom only ever writes whole lines, so each
 * write holds whole lines and no more than this.
 */
const ATOMIC_WRITE_BYTES = 4096;

/**
 * Structured JSON logs on stdout; one line per event, with the node's name on every line.
 *
 * Lines are written off the event loop (sonic-boom hands them to the thread pool,
 * gathering what arrives meanwhile into the next write): a synchronous write per
 * line cost a busy worker more than the SFTP request it logged. pino flushes what
 * is left synchronously when the process exits, however it exits, except by
 * SIGKILL. A worker thread writes synchronously, as nothing flushes it at its end.
 */
export function createLogger(level: string, bindings: Record<string, unknown>): Logger {
  return pino(
    {
      level,
      base: bindings,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['password', '*.password'], censor: '[redacted]' },
    },
    pino.destination({ dest: 1, sync: !isMainThread, maxWrite: ATOMIC_WRITE_BYTES }),
  );
}

export type { Logger };
