import type { LoadedCapacityReport } from '../observability/capacity/load-report.js';
import { SPREAD_THRESHOLD, spreadRatio } from '../observability/capacity/rules.js';
import type { Summary } from '../observability/capacity/statistics.js';
import { isoTime } from './time.js';

const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;
const nullable = <T, R>(value: T | null, f: (v: T) => R): R | null => (value === null ? null : f(value));

function summaryJson(s: Summary | null, digits: number) {
  return nullable(s, (v) => ({
    mean: round(v.mean, digits),
    stddev: round(v.stddev, digits),
    p50: round(v.p50, digits),
    p95: round(v.p95, digits),
    max: round(v.max, digits),
  }));
}

/** The stable JSON shape of `ferry capacity --json` and GET /api/v1/capacity (documented in docs/cli.md). */
export function capacityJson(r: LoadedCapacityReport) {
  const name = (id: string | null) => (id === null ? null : (r.nodeNames.get(id) ?? id));
  return {
    since: isoTime(r.window.since),
    until: isoTime(r.window.until),
    intervalSeconds: r.window.intervalMs / 1000,
    mode: r.mode,
    capacityPerNode: r.capacity,
    minSamples: r.minSamples,
    intervals: r.intervals.map((i) => {
      const spread = spreadRatio(i, r.minSamples);
      return {
        start: isoTime(i.start),
        end: isoTime(i.end),
        count: i.count,
        bytes: i.bytes,
        seconds: summaryJson(i.seconds, 3),
        throughput: summaryJson(i.throughput, 0),
        concurrency: round(i.concurrency),
        load: Math.round(i.load),
        nodes: Object.fromEntries([...i.nodeLoad].map(([id, load]) => [name(id), Math.round(load)])),
        spread: nullable(spread, (v) => round(v, 4)),
        erratic: nullable(spread, (v) => v >= SPREAD_THRESHOLD),
      };
    }),
    nearing: r.nearing,
    rules: {
      classic: { ...r.classic, share: nullable(r.classic.share, (v) => round(v, 4)) },
      throughput: {
        ...r.throughput,
        quietConcurrency: nullable(r.throughput.quietConcurrency, round),
        busyConcurrency: nullable(r.throughput.busyConcurrency, round),
        quietP95Throughput: nullable(r.throughput.quietP95Throughput, Math.round),
        busyP95Throughput: nullable(r.throughput.busyP95Throughput, Math.round),
      },
    },
    nodes: r.nodes.map((n) => ({
      id: n.nodeId,
      name: name(n.nodeId),
      peakThroughput: Math.round(n.peakThroughput),
      peakAt: isoTime(n.peakAt),
      peakLoad: nullable(n.peakLoad, (v) => round(v, 4)),
    })),
    headroom: {
      verdict: r.headroom.verdict,
      reason: r.headroom.reason,
      busiestNode: name(r.headroom.busiestNode),
      projectedPeakThroughput: Math.round(r.headroom.projectedPeakThroughput),
      projectedPeakLoad: nullable(r.headroom.projectedPeakLoad, (v) => round(v, 4)),
      projectedPeakAt: isoTime(r.headroom.projectedPeakAt),
      projectedNode: name(r.headroom.projectedNode),
    },
    warning: r.warning,
    reasons: r.reasons,
  };
}
