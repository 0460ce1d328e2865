import pino, { type Logger } from 'pino';

/** Structured JSON logs on stdout; one line per event, with the node's name on every line. */
export function createLogger(level: string, bindings: Record<string, unknown>): Logger {
  return pino({
    level,
    base: bindings,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['password', '*.password'], censor: '[redacted]' },
  });
}

export type { Logger };
