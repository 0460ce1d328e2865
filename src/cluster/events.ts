import { sql, type Expression, type Kysely, type Selectable, type SqlBool } from 'kysely';
import type { Logger } from 'pino';
import type { ClusterEventKind, ClusterEventsTable, Database } from '../db/schema.js';

export type ClusterEvent = Selectable<ClusterEventsTable>;

export interface NewClusterEvent {
  kind: ClusterEventKind;
  nodeId: string | null;
  nodeName: string | null;
  detail?: string;
  at?: number;
}

/**
 * Cluster events: rows with time and node, written by the node they concern or by
 * the primary. With a logger, each recorded event is also a log line
 * ("cluster event") of the process that recorded it.
 */
export class ClusterEvents {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly log?: Logger,
  ) {}

  /** Records the event; `db` may be a transaction, so the event commits with what caused it. */
  async record(event: NewClusterEvent, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .insertInto('cluster_events')
      .values({ at: event.at ?? Date.now(), kind: event.kind, node_id: event.nodeId, node_name: event.nodeName, detail: event.detail ?? '' })
      .execute();
    this.logged(event);
  }

  /** Records the event only if `fence` holds (a singleton's write under its lease token). */
  async recordFenced(event: NewClusterEvent, fence: Expression<SqlBool>): Promise<boolean> {
    const values = sql`select ${event.at ?? Date.now()}, ${event.kind}, ${event.nodeId}, ${event.nodeName}, ${event.detail ?? ''} where ${fence}`;
    const result = await sql`insert into cluster_events (at, kind, node_id, node_name, detail) ${values}`.execute(this.db);
    const recorded = Number(result.numAffectedRows ?? 0) === 1;
    if (recorded) this.logged(event);
    return recorded;
  }

  private logged(event: NewClusterEvent): void {
    this.log?.info({ event: event.kind, eventNode: event.nodeName, detail: event.detail ?? '' }, 'cluster event');
  }

  /**
   * Deletes events recorded before `before` and their alert delivery rows, under
   * the primary's fence; returns how many events. Their alerts were sent or given
   * up long before (alerts.give_up_after is hours, the retention days).
   */
  async purge(before: number, fence: Expression<SqlBool>): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const old = trx.selectFrom('cluster_events').select('id').where('at', '<', before);
      await trx.deleteFrom('alert_deliveries').where('event_id', 'in', old).where(fence).execute();
      const result = await trx.deleteFrom('cluster_events').where('at', '<', before).where(fence).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  /**
   * How an event's detail names another node: by its name, as status, logs and the
   * console do; with its id as well when another node has the same name, and by its
   * id alone when no node row names it any more (removed).
   */
  async nodeLabel(id: string): Promise<string> {
    const rows = await this.db
      .selectFrom('nodes as node')
      .innerJoin('nodes as same', 'same.name', 'node.name')
      .select(['node.name', 'same.id'])
      .where('node.id', '=', id)
      .execute();
    if (rows.length === 0) return `node ${id}`;
    return rows.length > 1 ? `${rows[0]!.name} (${id})` : rows[0]!.name;
  }

  async recent(limit = 20): Promise<ClusterEvent[]> {
    return this.db.selectFrom('cluster_events').selectAll().orderBy('id', 'desc').limit(limit).execute();
  }
}
