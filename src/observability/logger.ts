import fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * At most one pipe buffer's atomic write (PIPE_BUF on Linux): a node's processes
 * share stdout, and a longer write to a pipe may interleave with another
 * process's, splitting a line. Each write holds whole lines and no more than this.
 */
const ATOMIC_WRITE_BYTES = 4096;

/** How long a line may wait for others to share its write. */
const GATHER_MS = 50;

/**
 * Lines gathered for a moment and handed on together: a write per line cost a
 * busy worker about as much as the SFTP request it logged. sonic-boom writes them
 * through the thread pool, so a reader of stdout that stalls holds up no session.
 * What waits is written at the process's exit: a normal one, a signal Ferry
 * handles, an uncaught exception. A process killed otherwise (SIGKILL, SIGHUP,
 * the runtime aborting) loses its last GATHER_MS of lines (the transfer log, in
 * the database, is the record that must survive that).
 */
function gatheredStdout(): DestinationStream {
  const out = pino.destination({ dest: 1, sync: false, maxWrite: ATOMIC_WRITE_BYTES });
  let lines: string[] = [];
  let waiting = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (write: (chunk: string) => void) => {
    clearTimeout(timer);
    timer = undefined;
    let chunk = '';
    let chunkBytes = 0;
    for (const line of lines) {
      const lineBytes = Buffer.byteLength(line);
      if (chunkBytes > 0 && chunkBytes + lineBytes > ATOMIC_WRITE_BYTES) {
        write(chunk);
        chunk = '';
        chunkBytes = 0;
      }
      chunk += line;
      chunkBytes += lineBytes;
    }
    if (chunkBytes > 0) write(chunk);
    lines = [];
    waiting = 0;
  };
  const writeLater = (chunk: string) => void out.write(chunk);
  process.on('exit', () => {
    // An asynchronous write started now would be cut off by the exit: what sonic-boom
    // still queues, then what waits here, is written before the process goes.
    try {
      out.flushSync();
    } catch {}
    flush(writeNow);
  });
  return {
    write(line: string) {
      lines.push(line);
      waiting += line.length;
      if (waiting >= 4 * ATOMIC_WRITE_BYTES) flush(writeLater);
      else timer ??= setTimeout(() => flush(writeLater), GATHER_MS).unref();
    },
  };
}

/** Writes all of `chunk` to stdout before returning, waiting out a full pipe (bounded: a stuck reader cannot hold an exit for long). */
function writeNow(chunk: string): void {
  let rest = Buffer.from(chunk);
  for (let attempt = 0; rest.length > 0 && attempt < 1000;) {
    try {
      const written = fs.writeSync(1, rest);
      if (written === 0) attempt++;
      rest = rest.subarray(written);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      attempt++;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

const CENSOR = '[redacted]';

function hasPassword(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.hasOwn(value, 'password');
}

/**
 * A line's fields with any `password`, at the top or one level down, replaced:
 * nothing logs one on purpose, this is the guard. pino's own redaction did the
 * same at several microseconds a line (it parses its paths on every line), a
 * cost paid twice for every file a session uploads.
 */
export function withoutPasswords(fields: Record<string, unknown>): Record<string, unknown> {
  let out = fields;
  for (const key in fields) {
    const value = fields[key];
    if (key !== 'password' && !hasPassword(value)) continue;
    if (out === fields) out = { ...fields };
    out[key] = key === 'password' ? CENSOR : { ...(value as Record<string, unknown>), password: CENSOR };
  }
  return out;
}

/** One per process, so lines from its loggers keep their order. */
let stdout: DestinationStream | undefined;

/**
 * Structured JSON logs on stdout; one line per event, with the node's name on every line.
 * A worker thread writes each line at once: nothing flushes a thread at its end.
 */
export function createLogger(level: string, bindings: Record<string, unknown>): Logger {
  return pino(
    {
      level,
      base: bindings,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: withoutPasswords },
    },
    isMainThread ? (stdout ??= gatheredStdout()) : pino.destination({ dest: 1, sync: true }),
  );
}

export type { Logger };
