import type { IntervalStats } from './intervals.js';

export type ClusterMode = 'active-active' | 'active-passive';

export interface NodePeak {
  nodeId: string;
  /** Highest bytes per second the node moved in one interval. */
  peakThroughput: number;
  /** Start of that interval (null when the node moved nothing). */
  peakAt: number | null;
  /** peakThroughput as a share of the configured capacity per node, or null without one. */
  peakLoad: number | null;
}

export interface Headroom {
  /** Whether the cluster can lose its busiest node; null when it cannot be judged (see reason). */
  verdict: boolean | null;
  reason: string;
  busiestNode: string | null;
  /** The highest bytes per second any surviving node would have carried, interval by interval. */
  projectedPeakThroughput: number;
  projectedPeakLoad: number | null;
  projectedPeakAt: number | null;
  projectedNode: string | null;
}

export function nodePeaks(nodeIds: readonly string[], intervals: readonly IntervalStats[], capacity: number | undefined): NodePeak[] {
  return nodeIds.map((nodeId) => {
    let peakThroughput = 0;
    let peakAt: number | null = null;
    for (const i of intervals) {
      const load = i.nodeLoad.get(nodeId) ?? 0;
      if (load > peakThroughput) [peakThroughput, peakAt] = [load, i.start];
    }
    return { nodeId, peakThroughput, peakAt, peakLoad: capacity ? peakThroughput / capacity : null };
  });
}

/**
 * Replays the window as if the busiest node (highest peak) had been lost: in every
 * interval its load moves to the survivors — spread evenly over them in
 * active-active (balancers send new sessions to the least loaded), onto one standby
 * in active-passive — and the highest resulting load of any survivor is compared
 * with the capacity of one node.
 */
export function loseBusiestNode(peaks: readonly NodePeak[], intervals: readonly IntervalStats[], mode: ClusterMode, capacity: number | undefined): Headroom {
  const none = { busiestNode: null, projectedPeakThroughput: 0, projectedPeakLoad: null, projectedPeakAt: null, projectedNode: null };
  if (peaks.length < 2) return { ...none, verdict: null, reason: 'fewer than two nodes: there is no other node to fail over to' };
  const busiest = peaks.reduce((a, b) => (b.peakThroughput > a.peakThroughput ? b : a));
  const survivors = peaks.filter((p) => p !== busiest).map((p) => p.nodeId);
  const receivers = mode === 'active-passive' ? 1 : survivors.length;

  let projectedPeakThroughput = 0;
  let projectedPeakAt: number | null = null;
  let projectedNode: string | null = null;
  for (const i of intervals) {
    const moved = (i.nodeLoad.get(busiest.nodeId) ?? 0) / receivers;
    for (const node of survivors) {
      const projected = (i.nodeLoad.get(node) ?? 0) + moved;
      if (projected > projectedPeakThroughput) [projectedPeakThroughput, projectedPeakAt, projectedNode] = [projected, i.start, node];
    }
  }
  const projection = {
    busiestNode: busiest.nodeId,
    projectedPeakThroughput,
    projectedPeakLoad: capacity ? projectedPeakThroughput / capacity : null,
    projectedPeakAt,
    projectedNode,
  };
  if (!capacity) return { ...projection, verdict: null, reason: 'no capacity per node configured (capacity.node_throughput)' };
  const verdict = projectedPeakThroughput <= capacity;
  const percent = Math.round((projectedPeakThroughput / capacity) * 100);
  return {
    ...projection,
    verdict,
    reason: verdict ? `the survivors would peak at ${percent}% of one node's capacity` : `a surviving node would need ${percent}% of its capacity`,
  };
}
