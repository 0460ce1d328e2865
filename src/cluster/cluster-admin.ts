import type { Kysely, Selectable } from 'kysely';
import type { Dialect } from '../db/connect.js';
import type { Database, NodesTable } from '../db/schema.js';
import { ClusterEvents, type ClusterEvent } from './events.js';
import { currentLease } from './lease.js';

export class ClusterAdminError extends Error {}

/** How late a heartbeat may be before a node shows as suspect: this many of its intervals. */
const SUSPECT_AFTER_HEARTBEATS = 3;

/** When a node counts as dead (node.dead_after) and how often it heartbeats (node.heartbeat_interval). */
export interface Liveness {
  deadAfterMs: number;
  heartbeatIntervalMs: number;
}

export interface NodeView {
  id: string;
  name: string;
  role: 'primary' | 'standby';
  /** Its own state (active, draining, drained); suspect while its heartbeat is late; stopped or lost once it is dead. */
  state: string;
  ready: boolean;
  alive: boolean;
  heartbeatAgeMs: number;
  sessions: number;
  version: string;
  mode: string | null;
  sftpAddress: string | null;
  adminAddress: string | null;
  startedAt: number;
  stoppedAt: number | null;
  lostAt: number | null;
}

export interface ClusterView {
  mode: string;
  primary: { nodeId: string | null; name: string | null; token: number; expiresInMs: number };
  nodes: NodeView[];
  events: ClusterEvent[];
  now: number;
}

/** What operators do to the cluster from the CLI: look at it, drain a node, remove one. */
export class ClusterAdmin {
  private readonly events: ClusterEvents;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly liveness: Liveness,
  ) {
    this.events = new ClusterEvents(db);
  }

  /**
   * A heartbeat this late means the node may be gone (SIGKILL, a cut cable): what
   * it last said about itself (ready, its sessions) is no longer believed, though
   * it is not dead yet.
   */
  private get suspectAfterMs(): number {
    return Math.min(SUSPECT_AFTER_HEARTBEATS * this.liveness.heartbeatIntervalMs, this.liveness.deadAfterMs);
  }

  async view(eventLimit = 20): Promise<ClusterView> {
    const lease = await currentLease(this.db, this.dialect);
    const now = Number(lease?.now ?? Date.now());
    const rows = await this.db.selectFrom('nodes').selectAll().orderBy('name').execute();
    const primaryId = lease && lease.holder && lease.expires_at > now ? lease.holder : null;
    const nodes = rows.map((n) => this.nodeView(n, primaryId, now));
    const modes = [...new Set(nodes.filter((n) => n.alive).map((n) => n.mode))];
    return {
      mode: modes.length === 1 ? (modes[0] ?? 'unknown') : modes.length === 0 ? 'unknown' : `mixed (${modes.join(', ')})`,
      primary: {
        nodeId: primaryId,
        name: nodes.find((n) => n.id === primaryId)?.name ?? null,
        token: Number(lease?.token ?? 0),
        expiresInMs: primaryId ? Number(lease!.expires_at) - now : 0,
      },
      nodes,
      events: await this.events.recent(eventLimit),
      now,
    };
  }

  private nodeView(n: Selectable<NodesTable>, primaryId: string | null, now: number): NodeView {
    const alive = this.isAlive(n, now);
    const late = alive && now - n.heartbeat_at >= this.suspectAfterMs;
    return {
      id: n.id,
      name: n.name,
      role: n.id === primaryId ? 'primary' : 'standby',
      state: late ? 'suspect' : alive ? n.state : n.stopped_at !== null ? 'stopped' : 'lost',
      ready: alive && !late && n.ready === 1,
      alive,
      heartbeatAgeMs: Math.max(0, now - n.heartbeat_at),
      sessions: alive ? n.sessions : 0,
      version: n.version,
      mode: n.mode,
      sftpAddress: n.sftp_address,
      adminAddress: n.admin_address,
      startedAt: n.started_at,
      stoppedAt: n.stopped_at,
      lostAt: n.lost_at,
    };
  }

  /** Heartbeating within node.dead_after on the database clock, and not stopped. */
  private isAlive(n: Selectable<NodesTable>, now: number): boolean {
    return n.stopped_at === null && now - n.heartbeat_at < this.liveness.deadAfterMs;
  }

  async find(nameOrId: string): Promise<Selectable<NodesTable>> {
    const matches = await this.db
      .selectFrom('nodes')
      .selectAll()
      .where((eb) => eb.or([eb('name', '=', nameOrId), eb('id', '=', nameOrId)]))
      .execute();
    if (matches.length === 0) throw new ClusterAdminError(`no node named "${nameOrId}"`);
    if (matches.length > 1) throw new ClusterAdminError(`several nodes are named "${nameOrId}": give its id`);
    return matches[0]!;
  }

  /** Asks a node to drain: it stops taking sessions and work, finishes transfers until the deadline. */
  async drain(nameOrId: string, timeoutMs: number): Promise<Selectable<NodesTable>> {
    const node = await this.find(nameOrId);
    if (node.stopped_at !== null) throw new ClusterAdminError(`node "${node.name}" is stopped; nothing to drain`);
    await this.db
      .updateTable('nodes')
      .set({ state: 'draining', drain_deadline: Date.now() + timeoutMs })
      .where('id', '=', node.id)
      .where('state', '=', 'active')
      .execute();
    await this.events.record({ kind: 'node-draining', nodeId: node.id, nodeName: node.name, detail: `timeout ${Math.round(timeoutMs / 1000)} s` });
    return node;
  }

  async state(id: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('nodes').select('state').where('id', '=', id).executeTakeFirst();
    return row?.state;
  }

  /** Removes a node that is drained, stopped or lost; a serving node must be drained first. */
  async remove(nameOrId: string): Promise<Selectable<NodesTable>> {
    const node = await this.find(nameOrId);
    const now = Number((await currentLease(this.db, this.dialect))?.now ?? Date.now());
    if (this.isAlive(node, now) && node.state !== 'drained') {
      throw new ClusterAdminError(`node "${node.name}" is ${node.state} and heartbeating: drain it first (ferry cluster drain ${node.name})`);
    }
    await this.db.deleteFrom('nodes').where('id', '=', node.id).execute();
    await this.events.record({ kind: 'node-removed', nodeId: node.id, nodeName: node.name });
    return node;
  }
}
