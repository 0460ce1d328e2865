import type { Logger } from 'pino';

/** How often a worker checks the accounts of its open sessions. */
export const ACCOUNT_CHECK_INTERVAL_MS = 2000;

/**
 * Ends the connections of accounts that were disabled or removed since they
 * logged in, on whichever node they are: every worker asks, in one query every
 * ACCOUNT_CHECK_INTERVAL_MS, which accounts of its open connections are still
 * enabled. A failed query ends nothing (a database outage is not a revocation).
 */
export class AccountWatch {
  private readonly open = new Map<number, Set<() => void>>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly enabledAmong: (ids: number[]) => Promise<Set<number>>,
    private readonly log: Logger,
    private readonly intervalMs = ACCOUNT_CHECK_INTERVAL_MS,
  ) {}

  /** Watches one logged-in connection of `accountId`; returns the function that stops watching it. */
  watch(accountId: number, end: () => void): () => void {
    let ends = this.open.get(accountId);
    if (!ends) this.open.set(accountId, (ends = new Set()));
    ends.add(end);
    this.timer ??= setInterval(() => void this.check(), this.intervalMs).unref();
    return () => {
      ends.delete(end);
      if (ends.size === 0 && this.open.get(accountId) === ends) this.open.delete(accountId);
      if (this.open.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private async check(): Promise<void> {
    if (this.checking || this.open.size === 0) return;
    this.checking = true;
    try {
      const ids = [...this.open.keys()];
      const enabled = await this.enabledAmong(ids);
      for (const id of ids) {
        if (enabled.has(id)) continue;
        for (const end of [...(this.open.get(id) ?? [])]) end();
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'could not check the accounts of open sessions');
    } finally {
      this.checking = false;
    }
  }
}
