import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs on stdout; one line per event, with the node's name on every line.
 * Written synchronously: pino's default hands every line to the thread pool, and
 * that round trip (two thread wake-ups per line) cost more than the write itself
 * on a per-file log line; a line is also never lost to a crash.
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
    pino.destination({ fd: 1, sync: true }),
  );
}

export type { Logger };
