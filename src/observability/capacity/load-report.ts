import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { ClusterMode } from './headroom.js';
import type { TimedTransfer } from './intervals.js';
import { capacityReport, type CapacityReport } from './report.js';

export interface CapacityQuery {
  since: number;
  until: number;
  intervalMs: number;
  /** capacity.node_throughput, if set. */
  capacity?: number;
  /** The mode to assume when no node row says (the reader's cluster.mode). */
  defaultMode: ClusterMode;
}

export interface LoadedCapacityReport extends CapacityReport {
  /** Node id → node name, for display. */
  nodeNames: Map<string, string>;
}

/**
 * Completed uploads and downloads that started in the window. Deliveries are left
 * out: their times include queue waits and retry back-off, not just transfer.
 */
async function timedTransfers(db: Kysely<Database>, since: number, until: number): Promise<TimedTransfer[]> {
  const rows = await db
    .selectFrom('transfers')
    .select(['node_id', 'direction', 'start_offset', 'bytes', 'started_at', 'ended_at'])
    .where('started_at', '>=', since)
    .where('started_at', '<', until)
    .where('status', '=', 'completed')
    .where('direction', 'in', ['upload', 'download'])
    .where('ended_at', 'is not', null)
    .execute();
  return rows.map((r) => ({
    nodeId: r.node_id,
    startedAt: Number(r.started_at),
    endedAt: Number(r.ended_at),
    // An upload's bytes is the file's size; a resumed one sent only what followed its offset.
    bytes: r.direction === 'upload' ? Math.max(0, Number(r.bytes) - Number(r.start_offset)) : Number(r.bytes),
  }));
}

/** The capacity report over the transfer log and the cluster's nodes. */
export async function loadCapacityReport(db: Kysely<Database>, query: CapacityQuery): Promise<LoadedCapacityReport> {
  const [transfers, nodes] = await Promise.all([
    timedTransfers(db, query.since, query.until),
    db.selectFrom('nodes').select(['id', 'name', 'mode']).execute(),
  ]);
  const modes = new Set(nodes.map((n) => n.mode).filter(Boolean));
  const mode: ClusterMode = modes.size === 1 ? (modes.values().next().value as ClusterMode) : query.defaultMode;
  const nodeNames = new Map(nodes.map((n) => [n.id, n.name]));
  const report = capacityReport({
    transfers,
    window: { since: query.since, until: query.until, intervalMs: query.intervalMs },
    nodeIds: nodes.map((n) => n.id),
    mode,
    capacity: query.capacity,
    nodeNames,
  });
  return { ...report, nodeNames };
}
