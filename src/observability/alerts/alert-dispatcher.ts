import type { Expression, SqlBool } from 'kysely';
import type { Logger } from 'pino';
import { NotPrimaryAnyMore, type Leadership, type SingletonService } from '../../cluster/coordinator.js';
import { backoffMs } from '../../queue/work-queue.js';
import type { AlertStore, DueDelivery } from './alert-store.js';
import { postAlert } from './webhook-request.js';
import type { Webhook } from './webhooks.js';

export interface AlertDispatcherOptions {
  /** How often the primary looks for new events and due retries. */
  intervalMs: number;
  retryDelayMs: number;
  retryMaxDelayMs: number;
  /** An event this old is not sent (any more). */
  giveUpAfterMs: number;
  timeoutMs: number;
  /** Where a webhook seen for the first time starts: the last event recorded before this node started. */
  startAfter: number;
}

/**
 * PostgreSQL hands out event ids before commit: an event can become visible after
 * a later one. A webhook's start moves only past ids seen this long ago, which no
 * event-recording transaction outlives.
 */
const SETTLE_MS = 60_000;
const BATCH = 50;

/**
 * The primary's alert sender (a singleton service): gives every new cluster
 * event a delivery row per webhook, then POSTs due deliveries in event order,
 * retrying with exponential backoff until acknowledged or too old. Rows are
 * written under the lease token, so after a failover the new primary goes on
 * from the table; an event can reach a webhook twice only when a primary dies
 * between the webhook's answer and recording it (receivers dedupe on the id).
 */
export class AlertDispatcher implements SingletonService {
  readonly name = 'alerts';
  readonly intervalMs: number;
  private readonly seen: Array<{ at: number; lastId: number }> = [];

  constructor(
    private readonly store: AlertStore,
    private readonly webhooks: Webhook[],
    private readonly options: AlertDispatcherOptions,
    private readonly log: Logger,
    private readonly onResult: (webhook: string, result: 'delivered' | 'retry' | 'given-up') => void = () => {},
  ) {
    this.intervalMs = options.intervalMs;
  }

  async run({ fence }: Leadership): Promise<void> {
    if (this.webhooks.length === 0) return;
    this.seen.push({ at: Date.now(), lastId: await this.store.lastEventId() });
    const settled = this.settledId();
    // Every webhook's round ends before this one does: the next round must not send what this one still is.
    const rounds = await Promise.allSettled(this.webhooks.map((hook) => this.serve(hook, settled, fence)));
    for (const round of rounds) {
      // NotPrimaryAnyMore: the next primary goes on from the table.
      if (round.status === 'rejected' && !(round.reason instanceof NotPrimaryAnyMore)) throw round.reason;
    }
  }

  /** The highest event id seen at least SETTLE_MS ago (older observations are dropped). */
  private settledId(): number | undefined {
    const cutoff = Date.now() - SETTLE_MS;
    let settled: number | undefined;
    while (this.seen.length > 0 && this.seen[0]!.at <= cutoff) settled = this.seen.shift()!.lastId;
    if (settled !== undefined) this.seen.unshift({ at: cutoff, lastId: settled });
    return settled;
  }

  private async serve(hook: Webhook, settled: number | undefined, fence: Expression<SqlBool>): Promise<void> {
    await this.store.ensureWebhook(hook.key, this.options.startAfter, fence);
    await this.store.queueNew(hook.key, hook.kinds, Date.now() - this.options.giveUpAfterMs, fence);
    if (settled !== undefined) await this.store.advance(hook.key, settled, fence);
    for (const delivery of await this.store.due(hook.key, BATCH)) await this.deliver(hook, delivery, fence);
  }

  private async deliver(hook: Webhook, { event, attempts }: DueDelivery, fence: Expression<SqlBool>): Promise<void> {
    const where = { webhook: hook.name, eventId: event.id, event: event.kind };
    if (Date.now() - event.at > this.options.giveUpAfterMs) {
      await this.must(this.store.givenUp(hook.key, event.id, `not acknowledged within ${this.options.giveUpAfterMs / 1000} s`, fence));
      this.log.error({ ...where, attempts }, 'alert given up: the event is older than alerts.give_up_after');
      this.onResult(hook.name, 'given-up');
      return;
    }
    const attempt = attempts + 1;
    // Should this node die during the request, the next primary tries again after the timeout.
    await this.must(this.store.startAttempt(hook.key, event.id, Date.now() + this.options.timeoutMs, fence));
    try {
      await postAlert(hook, event, attempt, this.options.timeoutMs);
    } catch (err) {
      const error = (err as Error).message;
      const retryAt = Date.now() + backoffMs(attempt, this.options);
      await this.must(this.store.attemptFailed(hook.key, event.id, error, retryAt, fence));
      this.log.warn({ ...where, attempt, err: error, retryAt: new Date(retryAt).toISOString() }, 'alert delivery failed; will retry');
      this.onResult(hook.name, 'retry');
      return;
    }
    await this.must(this.store.delivered(hook.key, event.id, fence));
    this.log.info({ ...where, attempt }, 'alert delivered');
    this.onResult(hook.name, 'delivered');
  }

  private async must(write: Promise<boolean>): Promise<void> {
    if (!(await write)) throw new NotPrimaryAnyMore();
  }
}
