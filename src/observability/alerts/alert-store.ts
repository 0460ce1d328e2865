import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { ClusterEvent } from '../../cluster/events.js';
import type { ClusterEventKind, Database } from '../../db/schema.js';

export interface DueDelivery {
  event: ClusterEvent;
  attempts: number;
}

/**
 * The alert deliveries in the database: one row per event and webhook, every
 * write fenced with the primary's lease token, so a primary that took over goes
 * on where the last one stopped and a deposed one cannot record anything.
 */
export class AlertStore {
  constructor(private readonly db: Kysely<Database>) {}

  async lastEventId(): Promise<number> {
    const row = await this.db
      .selectFrom('cluster_events')
      .select(sql<number | null>`max(id)`.as('id'))
      .executeTakeFirst();
    return Number(row?.id ?? 0);
  }

  /** Registers a webhook seen for the first time: events up to `startAfter` are not sent to it. */
  async ensureWebhook(key: string, startAfter: number, fence: Expression<SqlBool>): Promise<void> {
    await sql`insert into alert_webhooks (key, start_after, created_at)
      select ${key}, ${startAfter}, ${Date.now()} where ${fence}
      on conflict (key) do nothing`.execute(this.db);
  }

  /**
   * Adds a pending delivery for every event after the webhook's start that has
   * none yet (of its kinds, not older than `notBefore`). One statement: it
   * finds an event that committed late, after later ids, all the same.
   */
  async queueNew(key: string, kinds: ClusterEventKind[] | null, notBefore: number, fence: Expression<SqlBool>): Promise<number> {
    const now = Date.now();
    const kindFilter = kinds ? sql`and e.kind in (${sql.join(kinds)})` : sql``;
    const result = await sql`insert into alert_deliveries (webhook, event_id, status, attempts, next_attempt_at, created_at, updated_at)
      select ${key}, e.id, 'pending', 0, ${now}, ${now}, ${now}
      from cluster_events e, alert_webhooks w
      where w.key = ${key} and e.id > w.start_after and e.at >= ${notBefore} ${kindFilter}
        and not exists (select 1 from alert_deliveries d where d.webhook = ${key} and d.event_id = e.id)
        and ${fence}
      order by e.id
      limit 500
      on conflict do nothing`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }

  /** Moves the webhook's start up to `eventId`: no event at or below it can still appear. */
  async advance(key: string, eventId: number, fence: Expression<SqlBool>): Promise<void> {
    await this.db.updateTable('alert_webhooks').set({ start_after: eventId }).where('key', '=', key).where('start_after', '<', eventId).where(fence).execute();
  }

  /** Pending deliveries whose next attempt is due, oldest event first. */
  async due(key: string, limit: number): Promise<DueDelivery[]> {
    const rows = await this.db
      .selectFrom('alert_deliveries as d')
      .innerJoin('cluster_events as e', 'e.id', 'd.event_id')
      .select(['e.id', 'e.at', 'e.kind', 'e.node_id', 'e.node_name', 'e.detail', 'd.attempts'])
      .where('d.webhook', '=', key)
      .where('d.status', '=', 'pending')
      .where('d.next_attempt_at', '<=', Date.now())
      .orderBy('d.event_id')
      .limit(limit)
      .execute();
    return rows.map(({ attempts, ...event }) => ({ event: { ...event, id: Number(event.id), at: Number(event.at) }, attempts: Number(attempts) }));
  }

  /**
   * Counts an attempt before it is made, with when to try again should this node
   * die during it; false when the lease (or the row) moved on: do not send.
   */
  async startAttempt(key: string, eventId: number, retryAt: number, fence: Expression<SqlBool>): Promise<boolean> {
    return this.update(key, eventId, { attempts: sql`attempts + 1`, next_attempt_at: retryAt }, fence);
  }

  async delivered(key: string, eventId: number, fence: Expression<SqlBool>): Promise<boolean> {
    return this.update(key, eventId, { status: 'delivered', last_error: null }, fence);
  }

  async attemptFailed(key: string, eventId: number, error: string, retryAt: number, fence: Expression<SqlBool>): Promise<boolean> {
    return this.update(key, eventId, { last_error: error, next_attempt_at: retryAt }, fence);
  }

  async givenUp(key: string, eventId: number, error: string, fence: Expression<SqlBool>): Promise<boolean> {
    return this.update(key, eventId, { status: 'failed', last_error: error }, fence);
  }

  private async update(key: string, eventId: number, change: Record<string, unknown>, fence: Expression<SqlBool>): Promise<boolean> {
    const result = await this.db
      .updateTable('alert_deliveries')
      .set({ ...change, updated_at: Date.now() })
      .where('webhook', '=', key)
      .where('event_id', '=', eventId)
      .where('status', '=', 'pending')
      .where(fence)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
