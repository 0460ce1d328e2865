import type { Logger } from 'pino';
import { isDatabaseUnavailable } from '../transfers/retry.js';

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;
/** Name lookups and routes that fail now may work in a moment, like a refused connection. */
const NETWORK_ERRORS = /ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH/;

/** Whether an error says the database is away for now, not that the request or the configuration is wrong. */
export function isDatabaseAway(err: unknown): boolean {
  return isDatabaseUnavailable(err) || NETWORK_ERRORS.test(`${(err as { code?: string })?.code ?? ''} ${(err as Error)?.message ?? ''}`);
}

/**
 * Runs a start-up step that needs the database until it succeeds, retrying with
 * backoff (0.5 s doubling to 15 s, a log line each time) while the database is
 * away: a node started before its database waits for it, as a running node does
 * (DESIGN.md, principle 12). Any other error (a wrong password, a schema this
 * version does not know) is thrown at once: waiting would not mend it.
 */
export async function waitForDatabase<T>(what: string, step: () => Promise<T>, log: Logger, onWaiting?: () => void): Promise<T> {
  let delay = FIRST_RETRY_MS;
  const since = Date.now();
  for (;;) {
    try {
      const result = await step();
      if (delay > FIRST_RETRY_MS) log.warn({ waitedMs: Date.now() - since }, `database reachable: ${what} done`);
      return result;
    } catch (err) {
      if (!isDatabaseAway(err)) throw err;
      onWaiting?.();
      log.warn({ err: (err as Error).message, retryInMs: delay }, `database unreachable: waiting to ${what}`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}
