import { sql, type Kysely } from 'kysely';
import { dbNow } from '../db/clock.js';
import type { Dialect } from '../db/connect.js';
import type { Database, NodeState } from '../db/schema.js';

export interface NodeIdentity {
  nodeId: string;
  name: string;
  version: string;
  mode: string;
  sftpAddress: string;
  adminAddress: string;
}

export interface HeartbeatReport {
  ready: boolean;
  sessions: number;
}

export interface HeartbeatAnswer {
  state: NodeState;
  drainDeadline: number | null;
  /** The node's row was gone (removed while running) and has been registered again. */
  reRegistered: boolean;
}

/** This node's row in the nodes table: registered at start, one statement per heartbeat. */
export class Membership {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    readonly identity: NodeIdentity,
  ) {}

  get nodeId(): string {
    return this.identity.nodeId;
  }

  /** Registers the node as active; a restarted node becomes active again, a drained one too. */
  async register(): Promise<void> {
    const now = dbNow(this.dialect);
    const { nodeId, name, version, mode, sftpAddress, adminAddress } = this.identity;
    const row = {
      name,
      version,
      mode,
      sftp_address: sftpAddress,
      admin_address: adminAddress,
      started_at: now,
      heartbeat_at: now,
      stopped_at: null,
      state: 'active' as const,
      ready: 0,
      sessions: 0,
      drain_deadline: null,
      lost_at: null,
    };
    await this.db
      .insertInto('nodes')
      .values({ id: nodeId, ...row })
      .onConflict((oc) => oc.column('id').doUpdateSet(row))
      .execute();
  }

  /**
   * One statement: records liveness and readiness, reads back the state an operator
   * may have set. A missing row means the node was removed: a drained node stays
   * out (its process should be stopped); a serving one registers again.
   */
  async heartbeat(report: HeartbeatReport, currentState: NodeState): Promise<HeartbeatAnswer> {
    const row = await this.db
      .updateTable('nodes')
      .set({ heartbeat_at: dbNow(this.dialect), ready: report.ready ? 1 : 0, sessions: report.sessions, lost_at: null })
      .where('id', '=', this.identity.nodeId)
      .returning(['state', 'drain_deadline'])
      .executeTakeFirst();
    if (row) return { state: row.state, drainDeadline: row.drain_deadline, reRegistered: false };
    if (currentState === 'drained') return { state: 'drained', drainDeadline: null, reRegistered: false };
    await this.register();
    return { state: 'active', drainDeadline: null, reRegistered: true };
  }

  /** Another node's name, for events and logs. */
  async nameOf(nodeId: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('nodes').select('name').where('id', '=', nodeId).executeTakeFirst();
    return row?.name;
  }

  async setState(state: NodeState): Promise<void> {
    await this.db.updateTable('nodes').set({ state }).where('id', '=', this.identity.nodeId).execute();
  }

  async markStopped(): Promise<void> {
    await this.db
      .updateTable('nodes')
      .set({ stopped_at: dbNow(this.dialect), ready: 0, sessions: 0 })
      .where('id', '=', this.identity.nodeId)
      .execute();
  }
}

/** Nodes whose heartbeat is older than deadAfterMs on the database clock and not yet declared lost. */
export async function silentNodes(db: Kysely<Database>, dialect: Dialect, deadAfterMs: number) {
  return db
    .selectFrom('nodes')
    .select(['id', 'name'])
    .where('heartbeat_at', '<', sql<number>`${dbNow(dialect)} - ${deadAfterMs}`)
    .where('lost_at', 'is', null)
    .where('stopped_at', 'is', null)
    .execute();
}
