import { loseBusiestNode, nodePeaks, type ClusterMode, type Headroom, type NodePeak } from './headroom.js';
import type { IntervalStats, Window } from './intervals.js';
import { classicRule, throughputRule, type ClassicVerdict, type ThroughputVerdict } from './rules.js';

export interface CapacityInput {
  window: Window;
  /** The window's intervals (IntervalAccumulator). */
  intervals: IntervalStats[];
  /** Every node of the cluster, and every node that moved something in the window. */
  nodeIds: readonly string[];
  mode: ClusterMode;
  /** Bytes per second one node can carry (capacity.node_throughput), if configured. */
  capacity?: number;
  /** Node id → name, for the reasons. */
  nodeNames?: ReadonlyMap<string, string>;
  /** Transfers an interval needs before the rules judge it (capacity.min_samples). */
  minSamples: number;
}

export interface CapacityReport {
  window: Window;
  mode: ClusterMode;
  capacity: number | null;
  /** Transfers an interval needs before the rules judge it. */
  minSamples: number;
  intervals: IntervalStats[];
  classic: ClassicVerdict;
  throughput: ThroughputVerdict;
  /** The throughput rule's verdict where it can judge, else the classic rule's. */
  nearing: boolean | null;
  nodes: NodePeak[];
  headroom: Headroom;
  /** Nearing capacity, or no headroom to lose the busiest node. */
  warning: boolean;
  reasons: string[];
}

export function capacityReport(input: CapacityInput): CapacityReport {
  const { intervals } = input;
  const nodeIds = [...new Set(input.nodeIds)].sort();
  const { minSamples } = input;
  const classic = classicRule(intervals, minSamples);
  const throughput = throughputRule(intervals, minSamples);
  const nearing = throughput.verdict ?? classic.verdict;
  const nodes = nodePeaks(nodeIds, intervals, input.capacity);
  const headroom = loseBusiestNode(nodes, intervals, input.mode, input.capacity);

  const reasons: string[] = [];
  if (nearing) {
    reasons.push(
      throughput.verdict
        ? `nearing capacity: ${throughput.reason}`
        : `nearing capacity: transfer times erratic in ${classic.erratic} of ${classic.intervals} intervals`,
    );
  }
  if (headroom.verdict === false) {
    const busiest = input.nodeNames?.get(headroom.busiestNode!) ?? headroom.busiestNode;
    reasons.push(`no failover headroom: losing ${busiest}, ${headroom.reason}`);
  }
  return {
    window: input.window,
    mode: input.mode,
    capacity: input.capacity ?? null,
    minSamples,
    intervals,
    classic,
    throughput,
    nearing,
    nodes,
    headroom,
    warning: reasons.length > 0,
    reasons,
  };
}
