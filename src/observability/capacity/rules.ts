import type { IntervalStats } from './intervals.js';
import { mean } from './statistics.js';

/** Classic rule: an interval is erratic when σ ≥ this share of its slowest transfer time. */
export const SPREAD_THRESHOLD = 0.2;
/** Classic rule: nearing capacity when at least this share of the judged intervals are erratic. */
export const ERRATIC_SHARE = 0.8;

/** Throughput rule: busy intervals must run at least this many times the quiet ones' concurrency. */
export const CONCURRENCY_RISE = 1.5;
/** Throughput rule: nearing capacity when the busy intervals' p95 throughput is at most this share of the quiet ones'. */
export const P95_FALL = 0.7;
/** Throughput rule: intervals with enough transfers needed to compare busy with quiet. */
export const MIN_INTERVALS = 4;

function judged(intervals: readonly IntervalStats[], minSamples: number): IntervalStats[] {
  return intervals.filter((i) => i.count >= minSamples);
}

/** σ / max of an interval's transfer times, or null when it has fewer than minSamples transfers to judge. */
export function spreadRatio(interval: IntervalStats, minSamples: number): number | null {
  if (interval.count < minSamples || !interval.seconds) return null;
  return interval.seconds.max > 0 ? interval.seconds.stddev / interval.seconds.max : 0;
}

export interface ClassicVerdict {
  verdict: boolean | null;
  /** Intervals with enough transfers to judge. */
  intervals: number;
  erratic: number;
  share: number | null;
}

/**
 * The classic rule: the cluster nears capacity when the standard deviation of
 * transfer times reaches 20% of the maximum transfer time in 80% of the intervals.
 */
export function classicRule(intervals: readonly IntervalStats[], minSamples: number): ClassicVerdict {
  const ratios = judged(intervals, minSamples)
    .map((i) => spreadRatio(i, minSamples))
    .filter((r) => r !== null);
  if (ratios.length === 0) return { verdict: null, intervals: 0, erratic: 0, share: null };
  const erratic = ratios.filter((r) => r >= SPREAD_THRESHOLD).length;
  const share = erratic / ratios.length;
  return { verdict: share >= ERRATIC_SHARE, intervals: ratios.length, erratic, share };
}

export interface ThroughputVerdict {
  verdict: boolean | null;
  /** Why there is no verdict, or what decided it. */
  reason: string;
  intervals: number;
  quietConcurrency: number | null;
  busyConcurrency: number | null;
  quietP95Throughput: number | null;
  busyP95Throughput: number | null;
}

/**
 * The throughput rule: with headroom, the fastest transfers (the p95 of per-transfer
 * throughput: those not held back by their own client's link) stay as fast when more
 * transfers run at once. When they slow down as concurrency rises, the transfers
 * share a resource that has run out. Compares the busier half of the intervals (by
 * mean concurrency) with the quieter half.
 */
export function throughputRule(intervals: readonly IntervalStats[], minSamples: number): ThroughputVerdict {
  const usable = judged(intervals, minSamples).sort((a, b) => a.concurrency - b.concurrency || a.start - b.start);
  const half = Math.floor(usable.length / 2);
  const quiet = usable.slice(0, half);
  const busy = usable.slice(usable.length - half);
  const base = { intervals: usable.length, quietConcurrency: null, busyConcurrency: null, quietP95Throughput: null, busyP95Throughput: null };
  if (usable.length < MIN_INTERVALS) {
    return { ...base, verdict: null, reason: `needs ${MIN_INTERVALS} intervals with ${minSamples}+ transfers, found ${usable.length}` };
  }
  const figures = {
    intervals: usable.length,
    quietConcurrency: mean(quiet.map((i) => i.concurrency)),
    busyConcurrency: mean(busy.map((i) => i.concurrency)),
    quietP95Throughput: mean(quiet.map((i) => i.throughput!.p95)),
    busyP95Throughput: mean(busy.map((i) => i.throughput!.p95)),
  };
  const rise = figures.busyConcurrency / figures.quietConcurrency;
  if (!(rise >= CONCURRENCY_RISE)) {
    return { ...figures, verdict: null, reason: `concurrency varied too little to judge (busy/quiet ${rise.toFixed(2)}, needs ${CONCURRENCY_RISE})` };
  }
  const kept = figures.busyP95Throughput / figures.quietP95Throughput;
  const verdict = kept <= P95_FALL;
  return {
    ...figures,
    verdict,
    reason: `concurrency ×${rise.toFixed(2)}, p95 throughput ×${kept.toFixed(2)} (nearing at ≤ ${P95_FALL})`,
  };
}
