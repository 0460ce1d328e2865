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

  async recent(limit = 20): Promise<ClusterEvent[]> {
    return this.db.selectFrom('cluster_events').selectAll().orderBy('id', 'desc').limit(limit).execute();
  }
}
