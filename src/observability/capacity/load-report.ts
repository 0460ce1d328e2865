import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { TransferLog } from '../../transfers/transfer-log.js';
import type { ClusterMode } from './headroom.js';
import { IntervalAccumulator, type TimedTransfer, type Window } from './intervals.js';
import { capacityReport, type CapacityReport } from './report.js';

export interface CapacityQuery {
  since: number;
  until: number;
  intervalMs: number;
  /** capacity.node_throughput, if set. */
  capacity?: number;
  /** The mode to assume when no node row says (the reader's cluster.mode). */
  defaultMode: ClusterMode;
  /** capacity.min_samples: transfers an interval needs before the rules judge it. */
  minSamples: number;
}

export interface LoadedCapacityReport extends CapacityReport {
  /** Node id → node name, for display. */
  nodeNames: Map<string, string>;
}

const PAGE_SIZE = 5000;

/**
 * Feeds the completed uploads and downloads that started in the window to the
 * accumulator, a page at a time (memory stays at two numbers per transfer).
 * Deliveries are left out: their times include queue waits and retry back-off.
 */
async function accumulate(db: Kysely<Database>, window: Window): Promise<IntervalAccumulator> {
  const accumulator = new IntervalAccumulator(window);
  for await (const page of new TransferLog(db).pages({ since: window.since, until: window.until, completedFilesOnly: true }, PAGE_SIZE)) {
    for (const r of page) if (r.ended_at !== null) accumulator.add(timed(r));
  }
  return accumulator;
}

function timed(r: { node_id: string; direction: string; start_offset: number; bytes: number; started_at: number; ended_at: number | null }): TimedTransfer {
  return {
    nodeId: r.node_id,
    startedAt: Number(r.started_at),
    endedAt: Number(r.ended_at),
    // An upload's bytes is the file's size; a resumed one sent only what followed its offset.
    bytes: r.direction === 'upload' ? Math.max(0, Number(r.bytes) - Number(r.start_offset)) : Number(r.bytes),
  };
}

/** The capacity report over the transfer log and the cluster's nodes. */
export async function loadCapacityReport(db: Kysely<Database>, query: CapacityQuery): Promise<LoadedCapacityReport> {
  const window = { since: query.since, until: query.until, intervalMs: query.intervalMs };
  const [accumulator, nodes] = await Promise.all([accumulate(db, window), db.selectFrom('nodes').select(['id', 'name', 'mode']).execute()]);
  const modes = new Set(nodes.map((n) => n.mode).filter(Boolean));
  const mode: ClusterMode = modes.size === 1 ? (modes.values().next().value as ClusterMode) : query.defaultMode;
  const nodeNames = new Map(nodes.map((n) => [n.id, n.name]));
  const report = capacityReport({
    window,
    intervals: accumulator.intervals(),
    nodeIds: [...nodes.map((n) => n.id), ...accumulator.nodeIds],
    mode,
    capacity: query.capacity,
    nodeNames,
    minSamples: query.minSamples,
  });
  return { ...report, nodeNames };
}
