import type { Logger } from 'pino';

const CONNECTION_ERRORS =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|terminating connection|Connection terminated|the database system is (starting up|shutting down)|timeout exceeded when trying to connect|SQLITE_BUSY/i;

/** Whether an error means the database is away (worth retrying), not that the statement is wrong. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return CONNECTION_ERRORS.test(`${e?.code ?? ''} ${e?.message ?? ''}`) || e?.code === '57P01' || e?.code === '57P03';
}

/**
 * Runs `write` until it succeeds, retrying with backoff (up to `maxWaitMs`) while
 * the database is unreachable: a transfer's end must not be lost to a restart.
 */
export async function retryWhileDatabaseDown<T>(write: () => Promise<T>, log: Logger, maxWaitMs = 120_000): Promise<T> {
  const deadline = Date.now() + maxWaitMs;
  let delay = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isDatabaseUnavailable(err) || Date.now() + delay > deadline) throw err;
      if (attempt === 1) log.warn({ err: (err as Error).message }, 'database unavailable; retrying the transfer log write');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}
